//! `rampart test`: decide one call against the policy and print the verdict.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use rampart_core::policy::Request;

use crate::policies;

#[derive(clap::Args, Debug)]
pub struct Args {
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
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// The call: the command for exec, the path for file tools, the URL or
    /// host:port for net and fetch.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub input: Vec<String>,
}

pub fn run(args: Args, policy: &[PathBuf]) -> Result<i32> {
    let (engine, source) = policies::load(policy)?;
    let input = args.input.join(" ");
    let cwd = match &args.cwd {
        Some(c) => c.clone(),
        None => std::env::current_dir()?,
    };
    let project = crate::cmd::run::project_of(args.project.as_deref(), &cwd)?;
    let cwd = cwd.to_string_lossy().into_owned();
    let (url, domain) = match args.tool.as_str() {
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
    let is_exec = args.tool == "exec";
    let is_net = url.is_some();
    let req = Request {
        tool: &args.tool,
        agent: &args.agent,
        session: &args.session,
        command: is_exec.then_some(input.as_str()),
        path: (!is_exec && !is_net).then_some(input.as_str()),
        url: url.as_deref(),
        domain: domain.as_deref(),
        cwd: Some(&cwd),
        project: Some(&project),
    };
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
        println!("{} {} {}", d.action, args.tool, input);
        if d.matched_policies.is_empty() {
            println!("  policy:  none matched (default_action of {source})");
        } else {
            println!("  policy:  {}", d.matched_policies.join(", "));
        }
        if !d.message.is_empty() {
            println!("  message: {}", d.message);
        }
    }
    Ok(0)
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
