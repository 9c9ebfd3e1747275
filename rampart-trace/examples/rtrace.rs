//! `rtrace [--enforce-deny-substring S] -- CMD ARGS...`: run a command under the
//! trace backend and print each event's tool and request as one JSON line on
//! stderr, then a summary; exits with the command's status.
//! Denies (EPERM) every open, unix connect or exec whose path contains S, when given.

use std::ffi::OsString;

use rampart_core::event::Event;
use rampart_trace::{run_report, Options, Sink, Verdict};

struct Printer {
    deny: Option<String>,
    quiet: bool,
}

impl Sink for Printer {
    fn decide(&mut self, event: &Event) -> Verdict {
        let hit = |s: &str| self.deny.as_deref().is_some_and(|d| s.contains(d));
        let exec_path = match &event.call {
            rampart_core::event::Call::Exec { path, .. } => Some(path.as_str()),
            _ => None,
        };
        if event.path().is_some_and(hit) || exec_path.is_some_and(hit) {
            Verdict::Deny { errno: libc::EPERM }
        } else {
            Verdict::Allow
        }
    }
    fn record(&mut self, event: Event) {
        if !self.quiet {
            eprintln!(
                "{} {}",
                event.tool(),
                serde_json::Value::Object(event.request())
            );
        }
    }
}

fn main() {
    let mut args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let mut opts = Options::default();
    let mut sink = Printer {
        deny: None,
        quiet: false,
    };
    while let Some(a) = args.first().and_then(|a| a.to_str()).map(str::to_string) {
        match a.as_str() {
            "--deny" => {
                opts.enforce = true;
                sink.deny = Some(args[1].to_string_lossy().into_owned());
                args.drain(..2);
            }
            "--enforce" => {
                opts.enforce = true;
                args.remove(0);
            }
            "--quiet" => {
                sink.quiet = true;
                args.remove(0);
            }
            "--no-cwd-tracking" => {
                opts.track_cwd = false;
                args.remove(0);
            }
            "--" => {
                args.remove(0);
                break;
            }
            _ => break,
        }
    }
    let env: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    match run_report(&args, &env, &opts, &mut sink) {
        Ok(r) => {
            eprintln!(
                "rtrace: status {} stops {} events {} processes {}",
                r.status, r.stops, r.events, r.processes
            );
            std::process::exit(r.status)
        }
        Err(e) => {
            eprintln!("rtrace: {e}");
            std::process::exit(127)
        }
    }
}
