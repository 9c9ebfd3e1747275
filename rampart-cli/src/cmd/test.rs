//! `rampart test`: decide one call against the policy, or run a test suite.
//!
//! One call: the words after the options are the call (the command for
//! exec, the path for file tools, the URL or host:port for net). Several
//! words are joined as the recorder writes a command line (each word
//! shell-quoted when it needs it, `rampart_core::event::shell_quote`), so a
//! rule that matches a recorded command matches the same command here; one
//! word is taken as written (`rampart test "git status"`). Exit 0 when the
//! call would run, 1 when it would be refused (deny or ask).
//!
//! A suite: a `.yaml`/`.yml` file in Go Rampart's test format (`policy:`
//! relative to the suite, `tests:` with `name`, `tool`, `params`, `expect`),
//! or a policy file with inline `tests:`; with no argument,
//! `rampart-tests.yaml` in the working directory. Failures are printed
//! with the test's file:line, `--verbose` prints every test. Exit 1 when
//! any test fails.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use rampart_core::policy::glob::{Glob, GlobKind};
use rampart_core::policy::schema::{parse_test_file, TestFile};
use rampart_core::policy::{Action, Engine, Request, TestOutcome};

use crate::policies;

/// The suite `rampart test` runs when given nothing.
const DEFAULT_SUITE: &str = "rampart-tests.yaml";

/// Who makes a call, and where: the options `test` and `explain` share.
#[derive(clap::Args, Debug)]
pub struct CallArgs {
    /// The tool of the call: exec, read, write, edit, net, fetch, ...
    #[arg(long, default_value = "exec")]
    pub tool: String,
    /// Agent making the call.
    #[arg(long, default_value = "")]
    pub agent: String,
    /// Session of the call.
    #[arg(long, default_value = "")]
    pub session: String,
    /// Working directory that relative paths are resolved against
    /// [default: the current directory].
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// Project root that `$PROJECT` in path patterns stands for [default:
    /// the git work tree around --cwd, else --cwd].
    #[arg(long, value_name = "DIR")]
    pub project: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub call: CallArgs,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Suites: run only the tests whose name matches this glob.
    #[arg(long, value_name = "GLOB")]
    pub run: Option<String>,
    /// Suites: test against this policy file or directory (repeatable)
    /// instead of the suite's own `policy:`.
    #[arg(long, value_name = "POLICY")]
    pub config: Vec<PathBuf>,
    /// The call (the command for exec, the path for file tools, the URL or
    /// host:port for net and fetch), or a test suite or policy file
    /// (`.yaml`/`.yml`) [default: ./rampart-tests.yaml].
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub input: Vec<String>,
}

/// `verbose` (the global `-v`/`--verbose`): for a suite, print every test
/// with the policies that decided it, not only the failures.
pub fn run(args: Args, policy: &[PathBuf], verbose: bool) -> Result<i32> {
    if let [one] = args.input.as_slice() {
        let named = one.ends_with(".yaml") || one.ends_with(".yml");
        if named && !one.contains(char::is_whitespace) && !Path::new(one).is_file() {
            bail!("{one}: no such test suite or policy file");
        }
    }
    match suite_of(&args.input) {
        Some(file) => run_suite(&args, policy, &file, verbose),
        None if args.input.is_empty() => bail!(
            "nothing to test: give a call (rampart test -- git status), or a test suite \
             (there is no {DEFAULT_SUITE} here)"
        ),
        None => run_call(&args, policy),
    }
}

/// The suite to run: the one `.yaml`/`.yml` file given, or
/// `rampart-tests.yaml` when nothing is given and it exists.
fn suite_of(input: &[String]) -> Option<PathBuf> {
    match input {
        [] => Some(PathBuf::from(DEFAULT_SUITE)).filter(|p| p.is_file()),
        [one]
            if (one.ends_with(".yaml") || one.ends_with(".yml"))
                && !one.contains(char::is_whitespace) =>
        {
            Some(PathBuf::from(one)).filter(|p| p.is_file())
        }
        _ => None,
    }
}

/// The call as one string: several words quoted as the recorder quotes a
/// command line, one word as written.
pub fn call_text(input: &[String]) -> String {
    match input {
        [one] => one.clone(),
        words => words
            .iter()
            .map(|w| rampart_core::event::shell_quote(w))
            .collect::<Vec<_>>()
            .join(" "),
    }
}

/// One call as `rampart test` and `rampart explain` take it, owned; its
/// [`Call::request`] is what the engine decides.
pub struct Call {
    pub tool: String,
    pub agent: String,
    pub session: String,
    pub input: String,
    pub url: Option<String>,
    pub domain: Option<String>,
    pub cwd: String,
    pub project: String,
}

impl Call {
    /// The call `words` describe, made as `args` say.
    pub fn of(args: &CallArgs, words: &[String]) -> Result<Call> {
        Call::new(
            &args.tool,
            &args.agent,
            &args.session,
            words,
            args.cwd.as_deref(),
            args.project.as_deref(),
        )
    }

    /// The call of `tool` that `words` describe (see [`call_text`]), made
    /// in `cwd` (default: the current directory).
    pub fn new(
        tool: &str,
        agent: &str,
        session: &str,
        words: &[String],
        cwd: Option<&Path>,
        project: Option<&Path>,
    ) -> Result<Call> {
        let input = call_text(words);
        let cwd = match cwd {
            Some(c) => c.to_path_buf(),
            None => std::env::current_dir()?,
        };
        let project = crate::cmd::run::project_of(project, &cwd)?;
        let (url, domain) = match tool {
            "net" | "fetch" | "web_fetch" => {
                let url = if input.contains("://") {
                    input.clone()
                } else {
                    format!("tcp://{input}")
                };
                let domain = host_of(&url);
                (Some(url), Some(domain))
            }
            _ => (None, None),
        };
        Ok(Call {
            tool: tool.to_string(),
            agent: agent.to_string(),
            session: session.to_string(),
            input,
            url,
            domain,
            cwd: cwd.to_string_lossy().into_owned(),
            project,
        })
    }

    pub fn request(&self) -> Request<'_> {
        let is_exec = self.tool == "exec";
        let is_net = self.url.is_some();
        Request {
            tool: &self.tool,
            agent: &self.agent,
            session: &self.session,
            command: is_exec.then_some(self.input.as_str()),
            path: (!is_exec && !is_net).then_some(self.input.as_str()),
            url: self.url.as_deref(),
            domain: self.domain.as_deref(),
            cwd: Some(&self.cwd),
            project: Some(&self.project),
        }
    }
}

fn run_call(args: &Args, policy: &[PathBuf]) -> Result<i32> {
    let (engine, source) = policies::load(policy)?;
    let call = Call::of(&args.call, &args.input)?;
    let input = &call.input;
    let req = call.request();
    let started = Instant::now();
    let d = engine.evaluate(&req);
    let micros = started.elapsed().as_micros() as u64;
    if args.json {
        let v = serde_json::json!({
            "action": d.action.to_string(),
            "matched_policies": d.matched_policies,
            "message": d.message,
            "evaluation_time_us": micros,
        });
        println!("{v}");
    } else {
        println!("{} {} {}", d.action, call.tool, input);
        if d.matched_policies.is_empty() {
            println!("  policy:  none matched (default_action of {source})");
        } else {
            println!("  policy:  {}", d.matched_policies.join(", "));
        }
        if !d.message.is_empty() {
            println!("  message: {}", d.message);
        }
    }
    Ok(match d.action {
        Action::Allow | Action::Watch => 0,
        Action::Deny | Action::Ask => 1,
    })
}

fn run_suite(args: &Args, policy: &[PathBuf], file: &Path, verbose: bool) -> Result<i32> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let parsed = parse_test_file(file, &text).map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        anyhow::anyhow!("invalid test file:\n{}", lines.join("\n"))
    })?;
    let here = file.parent().unwrap_or(Path::new("."));
    let (engine, tests) = match parsed {
        TestFile::Policy(p) => {
            let sources = if args.config.is_empty() {
                vec![file.to_path_buf()]
            } else {
                args.config.clone()
            };
            let tests = p
                .tests
                .into_iter()
                .map(|t| (file.to_path_buf(), t))
                .collect();
            (load(&sources)?, tests)
        }
        TestFile::Suite(s) => {
            let tests: Vec<_> = s
                .tests
                .into_iter()
                .map(|t| (file.to_path_buf(), t))
                .collect();
            let engine = if !args.config.is_empty() {
                load(&args.config)?
            } else if !s.policy.is_empty() {
                let paths: Vec<PathBuf> = s.policy.iter().map(|p| here.join(&p.value)).collect();
                for (p, at) in paths.iter().zip(&s.policy) {
                    if !p.exists() {
                        bail!(
                            "{}:{}: policy {:?} does not exist ({})",
                            file.display(),
                            at.line,
                            at.value,
                            p.display()
                        );
                    }
                }
                load(&paths)?
            } else {
                policies::load(policy)?.0
            };
            (engine, tests)
        }
    };
    let selected: Vec<_> = match &args.run {
        Some(pattern) => {
            let glob = Glob::new(pattern, GlobKind::Text)
                .map_err(|e| anyhow::anyhow!("--run {pattern:?}: {e}"))?;
            tests
                .into_iter()
                .filter(|(_, t)| glob.is_match(&t.name))
                .collect()
        }
        None => tests,
    };
    if selected.is_empty() {
        bail!(
            "{}: no test to run{}",
            file.display(),
            args.run
                .as_ref()
                .map(|r| format!(" matches --run {r:?}"))
                .unwrap_or_default()
        );
    }
    let outcomes = engine.run_tests(&selected);
    let failed = outcomes.iter().filter(|o| !o.passed).count();
    if args.json {
        let tests: Vec<_> = outcomes.iter().map(outcome_json).collect();
        let v = serde_json::json!({
            "suite": file.display().to_string(),
            "passed": outcomes.len() - failed,
            "failed": failed,
            "tests": tests,
        });
        println!("{v}");
    } else {
        for o in &outcomes {
            if !o.passed || verbose {
                print_outcome(o);
            }
        }
        println!(
            "{}: {} passed, {} failed",
            file.display(),
            outcomes.len() - failed,
            failed
        );
    }
    Ok(if failed > 0 { 1 } else { 0 })
}

fn load(paths: &[PathBuf]) -> Result<Arc<Engine>> {
    Engine::load(paths).map(Arc::new).map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        anyhow::anyhow!("invalid policy:\n{}", lines.join("\n"))
    })
}

fn print_outcome(o: &TestOutcome) {
    let verdict = if o.passed { "PASS" } else { "FAIL" };
    println!("{verdict}  {}  ({}:{})", o.name, o.file.display(), o.line);
    if !o.passed {
        println!("      expected {}, got {}", o.expected, o.decision.action);
    }
    let by = if o.decision.matched_policies.is_empty() {
        "the default action".to_string()
    } else {
        o.decision.matched_policies.join(", ")
    };
    println!("      decided by {by}");
    if !o.decision.message.is_empty() {
        println!("      message: {}", o.decision.message);
    }
}

fn outcome_json(o: &TestOutcome) -> serde_json::Value {
    serde_json::json!({
        "name": o.name,
        "file": o.file.display().to_string(),
        "line": o.line,
        "expected": o.expected.to_string(),
        "action": o.decision.action.to_string(),
        "matched_policies": o.decision.matched_policies,
        "message": o.decision.message,
        "passed": o.passed,
    })
}

/// The host of a URL: between `://` and the port, path or end; IPv6
/// brackets removed.
fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let authority = authority
        .rsplit_once('@')
        .map(|(_, h)| h)
        .unwrap_or(authority);
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next().unwrap_or(v6).to_string();
    }
    authority.split(':').next().unwrap_or(authority).to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn host_of_urls() {
        assert_eq!(
            super::host_of("https://api.github.com/repos"),
            "api.github.com"
        );
        assert_eq!(super::host_of("tcp://example.com:443"), "example.com");
        assert_eq!(super::host_of("tcp://[::1]:8080"), "::1");
        assert_eq!(
            super::host_of("https://user:pw@host.example/x"),
            "host.example"
        );
    }
}
