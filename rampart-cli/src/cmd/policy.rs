//! `rampart policy`: check, lint, list and show policies.

use std::path::PathBuf;

use anyhow::{bail, Result};
use rampart_core::policy::{self, schema, Engine, LoadError};

use crate::policies;

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Load policies strictly; print one `file:line: message` per problem
    /// and exit 1 if there is any.
    Check {
        /// Policy files or directories [default: the policy sources in use].
        paths: Vec<PathBuf>,
    },
    /// Check, then warn about rules that cannot do what they seem to: rules
    /// shadowed by an earlier catch-all, `default_action: allow`, conditions
    /// that can never match, allow rules broader than `**`.
    Lint {
        /// Policy files or directories [default: the policy sources in use].
        paths: Vec<PathBuf>,
    },
    /// What NEW adds, removes and widens compared with OLD, rule by rule.
    Diff { old: PathBuf, new: PathBuf },
    /// List the policies shipped inside rampart.
    List,
    /// Print a shipped policy's YAML.
    Show {
        /// standard, paranoid or permissive.
        name: String,
    },
}

pub fn run(cmd: Command, policy: &[PathBuf]) -> Result<i32> {
    match cmd {
        Command::Check { paths } => check(sources(paths, policy)),
        Command::Lint { paths } => lint(sources(paths, policy)),
        Command::Diff { old, new } => {
            let read = |p: &PathBuf| {
                std::fs::read_to_string(p)
                    .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", p.display()))
            };
            let d = rampart_core::generate::diff(
                &read(&old)?,
                &old.display().to_string(),
                &read(&new)?,
                &new.display().to_string(),
            )
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            print!("{d}");
            Ok(0)
        }
        Command::List => {
            for p in policies::SHIPPED {
                println!("{:<11} {}", p.name, p.summary);
            }
            Ok(0)
        }
        Command::Show { name } => match policies::shipped(&name) {
            Some(p) => {
                print!("{}", p.yaml);
                Ok(0)
            }
            None => {
                let names: Vec<&str> = policies::SHIPPED.iter().map(|p| p.name).collect();
                bail!(
                    "no shipped policy is called {name:?} (there are: {})",
                    names.join(", ")
                )
            }
        },
    }
}

/// The policy texts to look at: explicit positional paths, else `--policy`,
/// else the resolved default.
fn sources(
    paths: Vec<PathBuf>,
    policy: &[PathBuf],
) -> Result<Vec<(PathBuf, String)>, Vec<LoadError>> {
    let paths = if paths.is_empty() {
        policy.to_vec()
    } else {
        paths
    };
    match policies::resolve(&paths) {
        policies::Source::Paths(p) => schema::read_sources(&p),
        policies::Source::Embedded(name) => Ok(vec![policies::embedded_text(name)]),
    }
}

fn print_errors(errors: &[LoadError]) -> i32 {
    for e in errors {
        println!("{e}");
    }
    1
}

fn check(sources: Result<Vec<(PathBuf, String)>, Vec<LoadError>>) -> Result<i32> {
    let texts = match sources {
        Ok(t) => t,
        Err(errors) => return Ok(print_errors(&errors)),
    };
    match Engine::from_texts(&texts) {
        Ok(engine) => {
            let names: Vec<String> = texts.iter().map(|(p, _)| p.display().to_string()).collect();
            println!(
                "ok: {} policies in {}",
                engine.policy_count(),
                names.join(", ")
            );
            Ok(0)
        }
        Err(errors) => Ok(print_errors(&errors)),
    }
}

fn lint(sources: Result<Vec<(PathBuf, String)>, Vec<LoadError>>) -> Result<i32> {
    let texts = match sources {
        Ok(t) => t,
        Err(errors) => return Ok(print_errors(&errors)),
    };
    match policy::lint(&texts) {
        Ok(warnings) => {
            for w in &warnings {
                println!("{}:{}: warning: {}", w.file.display(), w.line, w.message);
            }
            if warnings.is_empty() {
                println!("ok: no warnings");
            }
            Ok(0)
        }
        Err(errors) => Ok(print_errors(&errors)),
    }
}
