//! Shared test helpers: compile the C probes of `tests/probes/`, run a
//! command under the tracer with a recording sink, pick events.
#![allow(dead_code)]

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rampart_core::event::{Call, Event, Outcome};
use rampart_trace::{run_report, Options, RunReport, Sink, Verdict};

type Policy = Box<dyn FnMut(&Event) -> Verdict + Send>;

/// A sink that keeps every recorded event and every event it was asked about.
pub struct Recorder {
    pub events: Vec<Event>,
    pub decided: Vec<Event>,
    policy: Option<Policy>,
}

impl Recorder {
    /// Monitor mode: `decide` must never be called.
    pub fn monitor() -> Self {
        Recorder {
            events: Vec::new(),
            decided: Vec::new(),
            policy: None,
        }
    }
    pub fn enforcing(policy: impl FnMut(&Event) -> Verdict + Send + 'static) -> Self {
        Recorder {
            events: Vec::new(),
            decided: Vec::new(),
            policy: Some(Box::new(policy)),
        }
    }
}

impl Sink for Recorder {
    fn decide(&mut self, event: &Event) -> Verdict {
        self.decided.push(event.clone());
        let policy = self
            .policy
            .as_mut()
            .expect("decide() called in monitor mode");
        policy(event)
    }
    fn record(&mut self, event: Event) {
        self.events.push(event);
    }
}

static PROBES: Mutex<Option<HashMap<String, PathBuf>>> = Mutex::new(None);

/// Compile `tests/probes/NAME.c` (static or dynamic) once per test binary.
pub fn probe(name: &str, statically: bool) -> PathBuf {
    let mut guard = PROBES.lock().unwrap_or_else(|e| e.into_inner());
    let map = guard.get_or_insert_with(HashMap::new);
    let key = format!("{name}-{}", if statically { "static" } else { "dynamic" });
    if let Some(p) = map.get(&key) {
        return p.clone();
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/probes")
        .join(format!("{name}.c"));
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("probes");
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join(&key);
    let extra: &[&str] = if statically { &["-static"] } else { &[] };
    rampart_e2e::build::gcc(&src, &out, extra);
    map.insert(key, out.clone());
    out
}

pub fn env() -> Vec<(OsString, OsString)> {
    std::env::vars_os().collect()
}

/// Run `argv` under the tracer with `opts` and `sink`.
pub fn trace_with<A: AsRef<std::ffi::OsStr>>(
    argv: &[A],
    opts: &Options,
    sink: &mut Recorder,
) -> RunReport {
    let argv: Vec<OsString> = argv.iter().map(|a| a.as_ref().to_os_string()).collect();
    run_report(&argv, &env(), opts, sink).expect("traced run")
}

/// Run `argv` in monitor mode; the report and the recorded events.
pub fn trace<A: AsRef<std::ffi::OsStr>>(argv: &[A]) -> (RunReport, Vec<Event>) {
    let mut sink = Recorder::monitor();
    let report = trace_with(argv, &Options::default(), &mut sink);
    (report, sink.events)
}

pub fn canonical(p: impl AsRef<Path>) -> String {
    std::fs::canonicalize(p)
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// The exec events whose argv is exactly `argv`.
/// The execs the program made with `argv` (not the records of the file the
/// kernel loaded for another name, see [`loaded_via`]).
pub fn execs_with_argv<'a>(events: &'a [Event], argv: &[&str]) -> Vec<&'a Event> {
    events
        .iter()
        .filter(|e| matches!(&e.call, Call::Exec { argv: a, via: None, .. } if a.iter().map(String::as_str).eq(argv.iter().copied())))
        .collect()
}

/// The records of the file the kernel loaded for an exec of `name`.
pub fn loaded_via<'a>(events: &'a [Event], name: &str) -> Vec<&'a Event> {
    events
        .iter()
        .filter(|e| matches!(&e.call, Call::Exec { via: Some(v), .. } if v == name))
        .collect()
}

pub fn exec_path(e: &Event) -> &str {
    match &e.call {
        Call::Exec { path, .. } => path,
        other => panic!("not an exec: {other:?}"),
    }
}

/// The open events of `path`.
pub fn opens_of<'a>(events: &'a [Event], path: &str) -> Vec<&'a Event> {
    events
        .iter()
        .filter(|e| matches!(&e.call, Call::Open { path: p, .. } if p == path))
        .collect()
}

/// The first event: the exec of the command itself (its pid is the root's).
pub fn root_exec(events: &[Event]) -> &Event {
    let first = events.first().expect("at least the command's own exec");
    assert_eq!(
        first.tool(),
        "exec",
        "first event is the command's exec: {first:?}"
    );
    assert_eq!(first.outcome, Outcome::Ok);
    first
}

/// What the program saw, as written by a probe: errno 0 is success.
pub fn outcome_from_errno(errno: i32) -> Outcome {
    match errno {
        0 => Outcome::Ok,
        libc::EINPROGRESS => Outcome::InProgress,
        e => Outcome::Errno(e),
    }
}

/// "name errno" lines written by a probe.
pub fn probe_results(path: &Path) -> HashMap<String, i32> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("probe results {}: {e}", path.display()))
        .lines()
        .map(|l| {
            let (k, v) = l.split_once(' ').expect("name errno");
            (k.to_string(), v.parse().expect("errno number"))
        })
        .collect()
}
