//! The collector: the one place where intercepted calls become decisions and
//! audit records.
//!
//! The preload library (and `rampart __trace-exec`, and a traced run that
//! reports to `rampart serve`) feed it through the SEQPACKET [`server`].
//! Calls flow in batches (what one epoll round read) through a
//! crossbeam-channel pipeline of three stages, each on its own thread, so
//! that a stage is woken once per batch rather than once per call:
//!
//! ```text
//! server (epoll, decode) ──► decide (policy::Engine) ──► audit (audit::Chain, grouped fsync)
//! ```
//!
//! Channels are bounded: a slow disk slows the readers, which slows the
//! senders (back-pressure), and nothing is dropped. The collector never runs
//! a watched program and never prints on its streams.
//!
//! The tracer of `rampart run --backend trace` runs the same decisions and
//! trail on its own thread instead: see [`inline`].

pub mod guard;
pub mod inline;
pub mod linked;
pub mod policy_gen;
pub mod server;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use crossbeam_channel::{bounded, Receiver, Sender};
use rampart_core::audit::{Chain, Record, RecordDecision, BLOCKED};
use rampart_core::event::{Call, Event, Op, Outcome, Source};
use rampart_core::policy::{Action, Decision, Engine, Request};

/// How long the audit stage may hold written records before an fsync.
const SYNC_INTERVAL: Duration = Duration::from_millis(100);
/// Records written under one lock acquisition at most.
const BATCH: usize = 1024;
/// How long records no call waits for may gather before they are written:
/// a batch costs the directory lock and a look at the chain's tail, which
/// a trickle of one record per batch pays for every record.
const GATHER: Duration = Duration::from_millis(2);
/// Capacity of each channel between stages, in batches. The slots are
/// allocated and touched when the collector starts (a larger queue costs
/// every `rampart run` page faults); a batch holds at most what one epoll
/// round or one tracer batch brought.
const QUEUE: usize = 256;

/// Whether denied calls are blocked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Record every call with the policy's verdict; block nothing.
    Monitor,
    /// Block what the policy denies.
    Enforce,
}

impl Mode {
    /// As `--mode` spells it, which is also `RAMPART_MODE`'s value.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Monitor => rampart_core::env::MODE_MONITOR,
            Mode::Enforce => rampart_core::env::MODE_ENFORCE,
        }
    }
}

/// Who made a call: the agent and session it is recorded under, and the
/// project root its session works in (`$PROJECT` of path patterns, and
/// `request.project` of its records).
#[derive(Clone, Debug, Default)]
pub struct Origin {
    pub agent: String,
    pub session: String,
    pub project: Option<String>,
}

/// What goes through the pipeline: a call to decide, or a record that
/// needs no decision (a `lost` record, see [`Record::lost`]).
enum Work {
    Call {
        origin: Arc<Origin>,
        event: Event,
        /// Where the verdict goes when the caller waits for one (enforce).
        reply: Option<Reply>,
    },
    Note(Record),
}

impl Work {
    fn call(origin: Arc<Origin>, event: Event, reply: Option<Reply>) -> Work {
        Work::Call {
            origin,
            event,
            reply,
        }
    }
}

/// A caller waiting for a verdict: its connection and the frame's sequence
/// number.
pub struct Reply {
    pub conn: Arc<std::os::fd::OwnedFd>,
    pub seq: u32,
}

impl Reply {
    /// Send the verdict. The caller is blocked in recv waiting for it; a
    /// caller that is gone (timed out, killed) is not an error.
    fn send(&self, allow: bool) {
        use std::os::fd::AsRawFd;
        let mut buf = [0u8; 64];
        let n = rampart_core::wire::encode_verdict(self.seq, allow, &mut buf);
        // SAFETY: buf holds n initialised bytes.
        unsafe {
            libc::send(
                self.conn.as_raw_fd(),
                buf.as_ptr().cast(),
                n,
                libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
            )
        };
    }
}

/// One decided call on its way to the trail.
struct Decided {
    record: Record,
    reply: Option<Reply>,
}

/// Counts of what was recorded, for the summary.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// Records per (tool, verdict as it happened: `Record::verdict`).
    pub by_tool: BTreeMap<(String, String), u64>,
    pub records: u64,
    /// Frames that could not be decoded (counted, logged, never silent).
    pub malformed: u64,
    /// Records the watched processes could not hand over (the sum of the
    /// `lost` records written).
    pub lost: u64,
    /// Records the collector could not write, and why (the first error).
    pub unwritten: u64,
    pub write_error: Option<String>,
    pub audit_file: Option<PathBuf>,
    /// Earlier runs killed with the trail open, noted in it when it opened.
    pub cut_off: Vec<rampart_core::audit::writers::Writer>,
}

/// Where intercepted calls enter the pipeline (cheap to clone, one per
/// interceptor thread).
#[derive(Clone)]
pub struct Intake {
    tx: Sender<Vec<Work>>,
    default_origin: Arc<Origin>,
}

impl Intake {
    /// Hand a batch of calls to the decide stage.
    fn submit_calls(&self, calls: Vec<Work>) {
        if calls.is_empty() {
            return;
        }
        // The decide stage only stops after every Intake is dropped, so this
        // cannot fail while the pipeline runs.
        let _ = self.tx.send(calls);
    }
}

/// The policy in force, replaced whole when policy files change.
pub type LiveEngine = Arc<arc_swap::ArcSwap<Engine>>;

pub struct Config {
    pub origin: Origin,
    /// The session's mode: in enforce mode every refusal is applied (by a
    /// verdict, or from a process's verdict cache), in monitor mode none.
    pub mode: Mode,
    pub engine: LiveEngine,
    pub audit_dir: PathBuf,
    /// Print a line per denied call on rampart's stderr (`rampart run` in
    /// enforce mode without --quiet).
    pub print_denials: bool,
    /// Rampart's own state, denied to the watched tree whatever the policy.
    pub guard: guard::Guard,
    /// Enforce with `--fail-closed`: when the trail cannot be written, a
    /// call that waits is refused and every connection is dropped, so the
    /// library refuses what follows (the collector looks gone). Otherwise
    /// calls go on, decided by the policy, and are counted as unwritten.
    pub fail_closed: bool,
}

/// A running collector pipeline.
pub struct Collector {
    engine: LiveEngine,
    guard: guard::Guard,
    policy_gen: Option<Arc<policy_gen::PolicyGeneration>>,
    intake: Option<Intake>,
    server: Option<server::Server>,
    /// Set once the trail cannot be written (with `fail_closed`, the
    /// server then drops every connection).
    trail_down: Arc<std::sync::atomic::AtomicBool>,
    fail_closed: bool,
    enforcing: bool,
    decide: Option<JoinHandle<()>>,
    audit: Option<JoinHandle<Result<()>>>,
    stats: Arc<Mutex<Stats>>,
}

/// Each record is allocated by one stage and freed by the next, so glibc's
/// per-thread heaps shrink and grow again all the time (an `mprotect` and
/// page faults each time: about a sixth of the collector's time on a burst
/// of opens). Keep freed memory (up to 256 MiB) instead of trimming it, and grow by
/// 16 MiB at a time.
fn keep_freed_memory() {
    // SAFETY: mallopt only sets allocator parameters.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
        libc::mallopt(libc::M_TOP_PAD, 16 << 20);
    }
}

impl Collector {
    /// Start the decide and audit stages. The audit trail is opened here, so
    /// an unwritable audit directory fails before anything runs.
    pub fn start(cfg: Config) -> Result<Collector> {
        keep_freed_memory();
        let chain = Chain::open(&cfg.audit_dir).with_context(|| {
            format!("cannot open the audit trail in {}", cfg.audit_dir.display())
        })?;
        let stats = Arc::new(Mutex::new(Stats {
            cut_off: chain.cut_off_runs().to_vec(),
            ..Stats::default()
        }));
        linked::Names::prefetch(cfg.engine.load_full());
        let (call_tx, call_rx) = bounded::<Vec<Work>>(QUEUE);
        let (rec_tx, rec_rx) = bounded::<Vec<Decided>>(QUEUE);

        let engine = cfg.engine.clone();
        let guard = cfg.guard.clone();
        let enforcing = cfg.mode == Mode::Enforce;
        let decide = std::thread::Builder::new()
            .name("rampart-decide".into())
            .spawn(move || {
                crate::background::yield_to_the_tree();
                decide_stage(&engine, &guard, enforcing, call_rx, rec_tx)
            })?;
        let audit_stats = stats.clone();
        let trail_down = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let audit_cfg = AuditStage {
            print_denials: cfg.print_denials,
            fail_closed: cfg.fail_closed,
            origin: cfg.origin.clone(),
            trail_down: trail_down.clone(),
        };
        let audit = std::thread::Builder::new()
            .name("rampart-audit".into())
            .spawn(move || {
                crate::background::yield_to_the_tree();
                audit_stage(chain, rec_rx, &audit_stats, &audit_cfg)
            })?;

        Ok(Collector {
            engine: cfg.engine.clone(),
            guard: cfg.guard.clone(),
            policy_gen: None,
            intake: Some(Intake {
                tx: call_tx,
                default_origin: Arc::new(cfg.origin),
            }),
            server: None,
            trail_down,
            fail_closed: cfg.fail_closed,
            enforcing,
            decide: Some(decide),
            audit: Some(audit),
            stats,
        })
    }

    /// Listen for the preload library at `socket_path`. With `publish`, the
    /// policy generation file goes next to it (see [`policy_gen`]): only
    /// enforcing processes read it.
    pub fn listen(&mut self, socket_path: PathBuf, publish: bool) -> Result<()> {
        if publish {
            // Every call is decided with the session's project (a Hello
            // names its agent and session only).
            let project = self
                .intake
                .as_ref()
                .and_then(|i| i.default_origin.project.clone());
            self.policy_gen = Some(Arc::new(policy_gen::PolicyGeneration::create(
                &policy_gen::path_for(&socket_path),
                &self.engine.load(),
                &self.guard,
                project.as_deref(),
            )?));
        }
        let intake = self.intake()?;
        let stats = self.stats.clone();
        let abandon_when = self.fail_closed.then(|| self.trail_down.clone());
        self.server = Some(server::Server::start(
            socket_path,
            intake,
            stats,
            abandon_when,
        )?);
        Ok(())
    }

    /// The published policy generation, for a thread that reloads the
    /// policy without holding the collector (`PolicyGeneration::bump`).
    pub fn policy_generation(&self) -> Option<Arc<policy_gen::PolicyGeneration>> {
        self.policy_gen.clone()
    }

    /// Decide and record a call made by rampart itself on the tree's
    /// behalf: the exec of the command `rampart run` starts (no hook sees
    /// it). `enforced`: a refusal is what happens (the call is not made).
    /// Whether the policy lets it run.
    pub fn record_own_call(&self, mut event: Event, enforced: bool) -> Result<bool> {
        let intake = self.intake()?;
        let record = decide(
            &self.engine.load(),
            &self.guard,
            &intake.default_origin,
            &mut event,
            enforced,
            self.enforcing,
        );
        let allowed = allows(action_of(&record));
        intake.submit_calls(vec![Work::Note(record)]);
        Ok(allowed)
    }

    /// The policy's verdict on `event`, without recording it.
    pub fn allows(&self, event: &Event) -> bool {
        let mut event = event.clone();
        let origin = self.intake.as_ref().map(|i| i.default_origin.clone());
        let origin = origin.unwrap_or_default();
        let record = decide(
            &self.engine.load(),
            &self.guard,
            &origin,
            &mut event,
            false,
            self.enforcing,
        );
        allows(action_of(&record))
    }

    fn intake(&self) -> Result<Intake> {
        self.intake
            .clone()
            .context("the collector has already been stopped")
    }

    /// Stop: let connected processes finish sending (at most `grace` after
    /// the last one is expected to close), write every record, fsync, and
    /// return what was recorded.
    pub fn finish(mut self, grace: Duration) -> Result<Stats> {
        if let Some(server) = self.server.take() {
            server.stop(Instant::now() + grace);
        }
        self.intake.take();
        if let Some(d) = self.decide.take() {
            let _ = d.join();
        }
        if let Some(a) = self.audit.take() {
            match a.join() {
                Ok(r) => r?,
                Err(_) => anyhow::bail!("the audit writer panicked"),
            }
        }
        let stats = self.stats.lock().map(|s| s.clone()).unwrap_or_default();
        Ok(stats)
    }
}

fn decide_stage(
    engine: &LiveEngine,
    guard: &guard::Guard,
    enforcing: bool,
    rx: Receiver<Vec<Work>>,
    tx: Sender<Vec<Decided>>,
) {
    for calls in rx {
        let engine = engine.load();
        let out: Vec<Decided> = calls
            .into_iter()
            .map(|work| match work {
                Work::Call {
                    origin,
                    mut event,
                    reply,
                } => Decided {
                    record: decide(
                        &engine,
                        guard,
                        &origin,
                        &mut event,
                        reply.is_some(),
                        enforcing,
                    ),
                    reply,
                },
                Work::Note(record) => Decided {
                    record,
                    reply: None,
                },
            })
            .collect();
        if !out.is_empty() && tx.send(out).is_err() {
            break;
        }
    }
}

/// Evaluate one call and turn it into its audit record: self-protection
/// first, then the policy. A call that waits for the verdict (`enforced`)
/// and is denied is recorded with the errno it will fail with. A refusal
/// is recorded as applied (`request.blocked`) when the call waited for it
/// or the session enforces (a process refuses from its verdict cache
/// without asking, and reports the outcome itself).
fn decide(
    engine: &Engine,
    guard: &guard::Guard,
    origin: &Origin,
    event: &mut Event,
    enforced: bool,
    enforcing: bool,
) -> Record {
    // A file the policy refuses by another of its names (a hard link):
    // decided and recorded under that name too.
    linked::resolve(engine, event);
    let tool = event.tool();
    let command = event.command();
    let url = event.url();
    let domain = event.domain();
    let req = Request {
        tool,
        agent: &origin.agent,
        session: &origin.session,
        command: command.as_deref(),
        path: event.path(),
        url: url.as_deref(),
        domain: domain.as_deref(),
        cwd: Some(&event.cwd),
        project: origin.project.as_deref(),
    };
    let started = Instant::now();
    let decision = match guard.refuses(event).or_else(|| unnamed(event)) {
        Some(denied) => denied,
        None => past_the_hooks(event, decide_by_policy(engine, event, &req)),
    };
    let decision = if !allows(decision.action) && makes_a_directory_that_is_there(event) {
        changes_nothing()
    } else {
        decision
    };
    let micros = started.elapsed().as_micros() as u64;
    if enforced && !allows(decision.action) {
        // What the program gets, which the trail must say.
        event.outcome = Outcome::Errno(event.refused_errno());
    }
    let mut request = event.request();
    if let Some(p) = &origin.project {
        request.insert("project".into(), p.clone().into());
    }
    if !allows(decision.action) {
        request.insert(BLOCKED.into(), (enforced || enforcing).into());
    }
    Record::new(
        &origin.agent,
        &origin.session,
        tool,
        request,
        RecordDecision {
            action: decision.action.as_str().to_string(),
            matched_policies: decision.matched_policies,
            evaluation_time_us: micros,
            message: decision.message,
        },
    )
}

/// Whether `event` is a `mkdir` of a directory that is there now (a
/// `mkdir -p` of the home and what is above it, a cache directory made at
/// every start): the kernel answers it `EEXIST` and changes nothing, and
/// the program expects that errno. (A directory removed between this look
/// and the call is made, empty; removing one is a decided call of its own.
/// The look is the collector's: under enforcement the tree sees the same
/// files, for a chroot or a new mount namespace is refused there.)
fn makes_a_directory_that_is_there(event: &Event) -> bool {
    let Call::Mutate {
        op: Op::Mkdir,
        path,
        resolved,
        ..
    } = &event.call
    else {
        return false;
    };
    let target = resolved.as_deref().unwrap_or(path);
    let target = if target.starts_with('/') {
        std::path::PathBuf::from(target)
    } else {
        std::path::Path::new(&event.cwd).join(target)
    };
    std::fs::symlink_metadata(&target).is_ok_and(|m| m.is_dir())
}

/// The decision on a call that changes nothing whatever it is decided
/// ([`makes_a_directory_that_is_there`]): it runs, and fails as it would.
fn changes_nothing() -> Decision {
    Decision {
        action: Action::Allow,
        catch_all: false,
        matched_policies: Vec::new(),
        message: "the directory is there: this mkdir changes nothing (EEXIST)".into(),
    }
}

/// The policy's verdict on `event`: an open on its name and on the file it
/// reached, a mutation on each path it touches, each as the tool it is
/// decided as ([`Event::path_checks`]); a deny of any denies the call.
fn decide_by_policy(engine: &Engine, event: &Event, req: &Request<'_>) -> Decision {
    match event.path_checks() {
        Some(checks) => {
            let mut reqs: Vec<Request> = checks
                .map(|(tool, path)| Request {
                    tool,
                    path: Some(path),
                    ..*req
                })
                .collect();
            // A rename moves everything beneath its ends: what a rule
            // protects by where it is (`~/.ssh/**`) must not be moved out
            // of its reach (`mv ~/.ssh ~/k`, or `mv ~ /tmp/h`), nor
            // replaced, so each end is decided as a read and a write of
            // what such rules protect beneath it.
            let moved = match &event.call {
                Call::Mutate {
                    op: Op::Rename,
                    path,
                    new_path,
                    resolved,
                    new_resolved,
                    ..
                } => std::iter::once(path)
                    .chain(new_path)
                    .chain(resolved)
                    .chain(new_resolved)
                    .collect(),
                _ => Vec::new(),
            };
            let beneath: Vec<String> = moved
                .iter()
                .flat_map(|p| engine.anchored_beneath(p))
                .collect();
            // A mutation through a link among its directories (`rm
            // lnk/.bashrc` with `lnk` a link to the home), or through the
            // last link a `chmod` follows, changes the file where the link
            // leads: decided there too, where the interceptor pinned it
            // (`resolved`, `new_resolved`), else as the collector sees the
            // directories now.
            let real: Vec<(&'static str, String)> = match &event.call {
                Call::Mutate {
                    op,
                    path,
                    new_path,
                    resolved,
                    new_resolved,
                    ..
                } => {
                    let first = resolved.clone().or_else(|| through_links(path));
                    let second = new_resolved
                        .clone()
                        .or_else(|| new_path.as_deref().and_then(through_links));
                    let mut tools = Vec::new();
                    if let Some(p) = first {
                        if op.tools() & rampart_core::tool::TOOL_READ != 0 {
                            tools.push(("read", p.clone()));
                        }
                        tools.push(("write", p));
                    }
                    tools.extend(second.map(|p| ("write", p)));
                    tools
                }
                _ => Vec::new(),
            };
            // Refused there only by a rule that names something: a policy
            // learned from the names as programs spell them (a default of
            // deny) must not refuse their real spelling for being unnamed.
            let there: Vec<Request> = real
                .iter()
                .map(|(tool, p)| Request {
                    tool,
                    path: Some(p),
                    ..*req
                })
                .collect();
            if !there.is_empty() {
                let d = engine.evaluate_all(&there);
                if d.action == Action::Deny && !d.catch_all {
                    return d;
                }
            }
            for p in &beneath {
                for tool in ["read", "write"] {
                    reqs.push(Request {
                        tool,
                        path: Some(p),
                        ..*req
                    });
                }
            }
            engine.evaluate_all(&reqs)
        }
        None => engine.evaluate(req),
    }
}

/// The refusal of a call on a path its interceptor could not make
/// absolute (its working directory or directory descriptor has no name it
/// could read: deeper than `PATH_MAX`, say): a rule that names where files
/// are could not tell what it reaches, so nothing may.
fn unnamed(event: &Event) -> Option<Decision> {
    let mut checks = event.path_checks()?;
    let relative = checks.any(|(_, p)| !p.is_empty() && !p.starts_with('/'));
    relative.then(|| Decision {
        action: Action::Deny,
        catch_all: false,
        matched_policies: vec![UNNAMED_POLICY.to_string()],
        message: "a path rampart cannot name (its directory has no name it could read) is \
                  never allowed"
            .into(),
    })
}

/// The policy name the refusal of a path rampart cannot name carries.
pub const UNNAMED_POLICY: &str = "rampart-unnamed-path";

/// Where the absolute `path` really is when a link among its directories
/// leads elsewhere (its directory resolved now, its last name kept);
/// `None` when it is where it says, or its directory does not exist.
fn through_links(path: &str) -> Option<String> {
    let p = std::path::Path::new(path);
    let (dir, name) = (p.parent()?, p.file_name()?);
    let real = std::fs::canonicalize(dir).ok()?;
    (real != dir).then(|| real.join(name).to_string_lossy().into_owned())
}

/// A call past the preload library's hooks (`Source::Unhooked`: the
/// loader's opens, libc's own, an inline system call) is refused by the
/// policy's rules that name something, not by its default action nor by a
/// rule that matches every call (a generated policy's "not learned"):
/// those the Landlock floor applies to such calls in the kernel instead
/// (granting, as the loader needs, the system trees). A policy written for
/// what the hooks see (a learned one, or `default_action: deny` with the
/// project's files allowed) must not stop every program from loading its
/// libraries.
fn past_the_hooks(event: &Event, decision: Decision) -> Decision {
    if event.source != Source::Unhooked || allows(decision.action) || !decision.catch_all {
        return decision;
    }
    Decision {
        action: Action::Allow,
        catch_all: true,
        matched_policies: Vec::new(),
        message: "no rule that names this call past the hooks refuses it (the rest is the \
                  Landlock floor's)"
            .into(),
    }
}

/// The verdict a record carries (an unreadable one counts as a denial).
fn action_of(record: &Record) -> Action {
    record
        .decision
        .action
        .parse::<Action>()
        .unwrap_or(Action::Deny)
}

/// Whether a verdict lets the call proceed: allow and watch do; deny and
/// ask do not (nobody can be asked inside a system call).
pub fn allows(action: Action) -> bool {
    matches!(action, Action::Allow | Action::Watch)
}

/// How the audit stage reports and what it does when the trail fails.
struct AuditStage {
    print_denials: bool,
    fail_closed: bool,
    origin: Origin,
    trail_down: Arc<std::sync::atomic::AtomicBool>,
}

/// Write decided records to the trail, then send their verdicts. When the
/// trail cannot be written (disk full, I/O error), nothing more is written
/// after the failed write (which the chain cut back: no half record); the
/// records that miss the trail are counted, and at the end one `lost`
/// record says how many (in the room the chain's reserve keeps). With
/// `fail_closed` a waiting call whose record is not written is refused.
fn audit_stage(
    mut chain: Chain,
    rx: Receiver<Vec<Decided>>,
    stats: &Mutex<Stats>,
    cfg: &AuditStage,
) -> Result<()> {
    let mut batch: Vec<Record> = Vec::with_capacity(BATCH);
    let mut replies: Vec<(usize, Reply)> = Vec::new();
    let mut last_sync = Instant::now();
    let mut dirty = false;
    let mut failure: Option<String> = None;
    let mut unwritten = 0u64;
    loop {
        let first = if dirty {
            match rx.recv_timeout(SYNC_INTERVAL) {
                Ok(r) => Some(r),
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => None,
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
            }
        } else {
            match rx.recv() {
                Ok(r) => Some(r),
                Err(_) => break,
            }
        };
        if let Some(first) = first {
            let mut next = Some(first);
            let gather_until = Instant::now() + GATHER;
            while let Some(decided) = next.take() {
                for Decided { record, reply } in decided {
                    if let Some(r) = reply {
                        replies.push((batch.len(), r));
                    }
                    batch.push(record);
                }
                if batch.len() < BATCH {
                    next = rx.try_recv().ok();
                    // Nothing waits for these records: let a few more join.
                    if next.is_none() && replies.is_empty() {
                        let left = gather_until.saturating_duration_since(Instant::now());
                        if !left.is_zero() {
                            next = rx.recv_timeout(left).ok();
                        }
                    }
                }
            }
            // The records are in the file before any verdict leaves.
            if failure.is_none() {
                if let Err(e) = chain.append(&mut batch) {
                    tracing::error!("cannot write the audit trail: {e}");
                    failure = Some(e.to_string());
                    cfg.trail_down
                        .store(true, std::sync::atomic::Ordering::Release);
                } else {
                    dirty = true;
                }
            } else {
                batch.iter_mut().for_each(|r| r.hash.clear());
            }
            // Not written: an empty hash (see `Chain::append`).
            let missed = batch.iter().filter(|r| r.hash.is_empty()).count();
            unwritten += missed as u64;
            for (i, reply) in replies.drain(..) {
                let written = !batch[i].hash.is_empty();
                reply.send(allows(action_of(&batch[i])) && (written || !cfg.fail_closed));
            }
            batch.retain(|r| !r.hash.is_empty());
            if cfg.print_denials {
                for r in batch.iter().filter(|r| !allows(action_of(r))) {
                    eprintln!("{}", denial_line(r));
                }
            }
            count(stats, &batch, &chain);
            batch.clear();
        }
        if dirty && failure.is_none() && last_sync.elapsed() >= SYNC_INTERVAL {
            if let Err(e) = chain.sync() {
                failure = Some(e.to_string());
                cfg.trail_down
                    .store(true, std::sync::atomic::Ordering::Release);
            }
            last_sync = Instant::now();
            dirty = false;
        }
    }
    let Some(error) = failure else {
        if dirty {
            chain.sync()?;
        }
        return Ok(());
    };
    if let Ok(mut s) = stats.lock() {
        s.unwritten = unwritten;
        s.write_error = Some(error.clone());
    }
    if unwritten > 0 {
        let o = &cfg.origin;
        let note = Record::unwritten(&o.agent, &o.session, unwritten, &error);
        if let Err(e) = chain.note_loss(note) {
            tracing::error!("cannot write the record of the loss either: {e}");
        }
    }
    Ok(())
}

/// `rampart: denied exec "rm -rf /" [policy] message` (`would deny` for a
/// refusal that was only recorded); a mutation names its op and paths:
/// `rampart: denied write rename "/a" "/b" ...`
fn denial_line(r: &Record) -> String {
    let what = ["command", "path", "url"]
        .iter()
        .find_map(|k| r.request.get(*k).and_then(|v| v.as_str()))
        .unwrap_or("");
    let verb = match r.verdict() {
        v @ ("would deny" | "would ask") => v,
        _ => "denied",
    };
    let mut line = format!("rampart: {verb} {}", r.tool);
    if let Some(op) = r.request.get("op").and_then(|v| v.as_str()) {
        line.push(' ');
        line.push_str(op);
    }
    line.push_str(&format!(" {what:?}"));
    if let Some(new_path) = r.request.get("new_path").and_then(|v| v.as_str()) {
        line.push_str(&format!(" {new_path:?}"));
    }
    if !r.decision.matched_policies.is_empty() {
        line.push_str(&format!(" [{}]", r.decision.matched_policies.join(", ")));
    }
    if !r.decision.message.is_empty() {
        line.push(' ');
        line.push_str(&r.decision.message);
    }
    line
}

fn count(stats: &Mutex<Stats>, batch: &[Record], chain: &Chain) {
    if let Ok(mut s) = stats.lock() {
        s.count(batch, chain);
    }
}

impl Stats {
    /// Count a batch just written to `chain`.
    fn count(&mut self, batch: &[Record], chain: &Chain) {
        for r in batch {
            self.lost += r.lost_count().unwrap_or(0);
            // A handful of keys: find one without building an owned key.
            let known = self
                .by_tool
                .iter_mut()
                .find(|((tool, verdict), _)| *tool == r.tool && verdict == r.verdict());
            match known {
                Some((_, n)) => *n += 1,
                None => {
                    self.by_tool
                        .insert((r.tool.clone(), r.verdict().to_string()), 1);
                }
            }
        }
        self.records += batch.len() as u64;
        self.audit_file = Some(chain.path());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_core::event::{Call, Op, Source};

    fn engine(yaml: &str) -> Engine {
        Engine::from_texts(&[(PathBuf::from("p.yaml"), yaml.to_string())]).unwrap()
    }

    fn mutation(op: Op, path: &str, second: Option<&str>) -> Event {
        Event {
            pid: 7,
            ppid: 1,
            exe: "/usr/bin/ln".into(),
            cwd: "/w".into(),
            source: Source::Preload,
            call: Call::Mutate {
                op,
                path: path.into(),
                new_path: second.filter(|_| op.has_new_path()).map(Into::into),
                target: second.filter(|_| op.has_target()).map(Into::into),
                resolved: None,
                new_resolved: None,
            },
            outcome: Outcome::Unknown,
            truncated: false,
        }
    }

    #[test]
    fn a_mutation_is_one_record_decided_on_each_of_its_paths() {
        let e = engine(concat!(
            "version: \"1\"\ndefault_action: allow\npolicies:\n",
            "  - name: guard\n    match:\n      tool: write\n    rules:\n",
            "      - action: deny\n        when:\n          path_matches: [\"**/protected/**\"]\n",
            "  - name: keys\n    match:\n      tool: read\n    rules:\n",
            "      - action: deny\n        when:\n          path_matches: [\"**/*.key\"]\n",
        ));
        let origin = Origin {
            agent: "a".into(),
            session: "s".into(),
            project: None,
        };
        let decide = |mut ev: Event, enforced: bool| {
            let r = decide(
                &e,
                &guard::Guard::default(),
                &origin,
                &mut ev,
                enforced,
                enforced,
            );
            (r.decision.action.clone(), r)
        };
        // The destination of a rename, enforced: EACCES, both paths recorded.
        let (action, r) = decide(mutation(Op::Rename, "/w/x", Some("/w/protected/f")), true);
        assert_eq!((action.as_str(), r.tool.as_str()), ("deny", "write"));
        assert_eq!(r.request["op"], "rename");
        assert_eq!(r.request["path"], "/w/x");
        assert_eq!(r.request["new_path"], "/w/protected/f");
        assert_eq!(r.request["outcome"], "EACCES");
        assert_eq!(r.decision.matched_policies, ["guard"]);
        // A hard link to a key the policy only guards from reading.
        let (action, r) = decide(mutation(Op::Link, "/w/a.key", Some("/w/hl")), true);
        assert_eq!(action, "deny");
        assert_eq!(r.decision.matched_policies, ["keys"]);
        // A refused chmod fails with EPERM; in monitor mode nothing changes.
        let (_, r) = decide(mutation(Op::Chmod, "/w/protected/f", None), true);
        assert_eq!(r.request["outcome"], "EPERM");
        let (action, r) = decide(mutation(Op::Chmod, "/w/protected/f", None), false);
        assert_eq!(
            (action.as_str(), &r.request["outcome"]),
            ("deny", &"unknown".into())
        );
        // A symlink is decided on the link it creates, not on its target.
        let (action, r) = decide(mutation(Op::Symlink, "/w/l", Some("protected/f")), true);
        assert_eq!(
            (action.as_str(), &r.request["target"]),
            ("allow", &"protected/f".into())
        );
        assert!(
            denial_line(&decide(mutation(Op::Rename, "/w/protected/a", Some("/w/b")), true).1)
                .starts_with(r#"rampart: denied write rename "/w/protected/a" "/w/b" [guard]"#)
        );
    }
}
