//! Where policies come from: `--policy` sources, else `~/.rampart/policies/`
//! when it holds any, else the embedded `standard` policy; and the shipped
//! policies embedded in the binary (`rampart policy list|show`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Result};
use rampart_core::policy::Engine;

/// A policy shipped inside the binary.
pub struct Shipped {
    pub name: &'static str,
    pub summary: &'static str,
    pub yaml: &'static str,
}

pub const SHIPPED: &[Shipped] = &[
    Shipped {
        name: "standard",
        summary: "the default: denies credentials, destructive commands and system writes; watches the rest",
        yaml: include_str!("../../policies/standard.yaml"),
    },
    Shipped {
        name: "paranoid",
        summary: "default deny, with a small allow-list of what any process needs to start",
        yaml: include_str!("../../policies/paranoid.yaml"),
    },
    Shipped {
        name: "permissive",
        summary: "allows and records everything",
        yaml: include_str!("../../policies/permissive.yaml"),
    },
];

pub fn shipped(name: &str) -> Option<&'static Shipped> {
    SHIPPED.iter().find(|p| p.name == name)
}

/// The policy directory of the user: `~/.rampart/policies`.
pub fn user_dir() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|h| Path::new(&h).join(".rampart/policies"))
}

fn holds_policies(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten().any(|e| {
                let p = e.path();
                matches!(p.extension().and_then(|x| x.to_str()), Some("yaml" | "yml"))
                    && p.is_file()
            })
        })
        .unwrap_or(false)
}

/// What a command's policy comes from, for messages.
pub enum Source {
    Paths(Vec<PathBuf>),
    Embedded(&'static str),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Paths(p) => {
                let v: Vec<String> = p.iter().map(|p| p.display().to_string()).collect();
                f.write_str(&v.join(", "))
            }
            Source::Embedded(n) => write!(f, "built-in {n} policy"),
        }
    }
}

/// A shipped policy as a (name for errors, text) source.
pub fn embedded_text(name: &str) -> (PathBuf, String) {
    let p = shipped(name).expect("only shipped names are embedded");
    (
        PathBuf::from(format!("<built-in>/{name}.yaml")),
        p.yaml.to_string(),
    )
}

/// Resolve the sources as the design says.
pub fn resolve(explicit: &[PathBuf]) -> Source {
    if !explicit.is_empty() {
        return Source::Paths(explicit.to_vec());
    }
    if let Some(dir) = user_dir() {
        if holds_policies(&dir) {
            return Source::Paths(vec![dir]);
        }
    }
    Source::Embedded("standard")
}

/// Load the engine from the resolved sources; every load error is reported
/// as `file:line: message`.
pub fn load(explicit: &[PathBuf]) -> Result<(Arc<Engine>, Source)> {
    let source = resolve(explicit);
    let result = match &source {
        Source::Paths(p) => Engine::load(p),
        Source::Embedded(name) => Engine::from_texts(&[embedded_text(name)]),
    };
    match result {
        Ok(e) => Ok((Arc::new(e), source)),
        Err(errors) => {
            let lines: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
            bail!("invalid policy:\n{}", lines.join("\n"))
        }
    }
}
