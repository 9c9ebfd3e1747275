//! The collector run on its caller's thread, for the tracer of this process
//! (`rampart run --backend trace`): the same decisions and the same trail as
//! the threaded pipeline, without its threads.
//!
//! The tracer is idle while its tracees run, and a thread of its own
//! would compete with them for the CPUs: so in monitor mode calls are
//! queued ([`Inline::submit`]) and decided and written a piece at a time
//! ([`Inline::work`]) whenever no tracee waits for the tracer. In enforce
//! mode a call the policy could refuse ([`Inline::can_refuse`], the path
//! screen the preload library uses) is decided and recorded at once
//! ([`Inline::decide_and_record`]), before it runs; any other call runs at
//! once and is queued with its outcome, as in monitor mode.
//!
//! It blocks on nothing but the trail (its file and the audit directory's
//! lock, which another writer may hold). When the tracer has no spare time
//! the queue is worked off whole once it is long, and whatever is queued is
//! written before the tracer sleeps. The fsync of what was written is
//! started in the background at most every sync interval; records written
//! just before a long sleep wait for it until the next stop or the end of
//! the run (they are in the page cache: only a crash of the machine loses
//! them). A trail that cannot be written is an error of the run, reported
//! by [`Inline::finish`] (with how many records it could not write, also
//! noted in a last `lost` record); calls decided after it are counted, not
//! written.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rampart_core::audit::{Chain, Record};
use rampart_core::event::Event;
use rampart_core::policy::{Action, Engine};

use super::policy_gen::Refusals;
use super::{action_of, allows, decide, denial_line, Config, LiveEngine, Origin, Stats};

/// Decided calls written together (one lock, one `write`). Writing is the
/// longest piece of work, and a tracee that stops meanwhile waits for it:
/// 8 records take a few tens of microseconds. (grep -r under trace was
/// fastest with 8, against 2 and 64.)
const WRITE_BATCH: usize = 8;
/// Longest a decided call waits, once the queue is empty, for a full batch.
const MAX_AGE: Duration = Duration::from_millis(20);
/// Calls queued before they are all decided and written at once, idle
/// tracer or not (bounds memory when the tracees never leave it idle).
const MAX_QUEUED: usize = 1024;

pub struct Inline {
    engine: LiveEngine,
    guard: super::guard::Guard,
    origin: Origin,
    chain: Chain,
    print_denials: bool,
    stats: Stats,
    queued: VecDeque<Event>,
    decided: Vec<Record>,
    /// When the oldest of `decided` was decided.
    oldest: Instant,
    /// The first failure to write the trail; nothing is written after it,
    /// and [`Inline::finish`] reports it.
    failed: Option<anyhow::Error>,
    /// Records decided but not written (since the failure).
    unwritten: u64,
    /// What the policy in force can refuse, and the policy it was read from.
    refusals: Option<(Arc<Engine>, Refusals)>,
    /// Enforce mode: every refusal is applied.
    enforcing: bool,
}

impl Inline {
    /// Open the trail (an unwritable audit directory fails here, before
    /// anything runs).
    pub fn start(cfg: Config) -> Result<Inline> {
        let chain = Chain::open(&cfg.audit_dir).with_context(|| {
            format!("cannot open the audit trail in {}", cfg.audit_dir.display())
        })?;
        super::linked::Names::prefetch(cfg.engine.load_full());
        Ok(Inline {
            enforcing: cfg.mode == super::Mode::Enforce,
            engine: cfg.engine,
            guard: cfg.guard,
            origin: cfg.origin,
            stats: Stats {
                audit_file: Some(chain.path()),
                cut_off: chain.cut_off_runs().to_vec(),
                ..Stats::default()
            },
            chain,
            print_denials: cfg.print_denials,
            queued: VecDeque::new(),
            decided: Vec::with_capacity(WRITE_BATCH),
            oldest: Instant::now(),
            failed: None,
            unwritten: 0,
            refusals: None,
        })
    }

    /// Queue a call whose outcome is known (monitor mode).
    pub fn submit(&mut self, event: Event) {
        self.queued.push_back(event);
        if self.queued.len() >= MAX_QUEUED {
            self.flush();
        }
    }

    /// One small piece of the deferred work: write a full batch of decided
    /// calls, else decide one call, else write what has waited too long.
    /// Whether work is left.
    pub fn work(&mut self) -> bool {
        if self.decided.len() >= WRITE_BATCH {
            self.write();
        } else if let Some(event) = self.queued.pop_front() {
            self.decide_one(event);
        } else if !self.decided.is_empty() && self.oldest.elapsed() >= MAX_AGE {
            self.write();
        } else {
            self.start_due_sync();
            return false;
        }
        !self.queued.is_empty() || self.decided.len() >= WRITE_BATCH
    }

    /// Decide and write everything queued (the tracer is about to sleep:
    /// nothing stays unwritten while the tree is quiet), and start the
    /// background fsync if one is due.
    pub fn flush(&mut self) {
        while let Some(event) = self.queued.pop_front() {
            self.decide_one(event);
        }
        self.write();
        self.start_due_sync();
    }

    /// Start the background fsync of earlier writes if one is due (an
    /// append does this itself; this is for the times nothing is written).
    fn start_due_sync(&mut self) {
        if self.failed.is_none() {
            if let Err(e) = self.chain.sync_if_due() {
                self.fail(e.into());
            }
        }
    }

    fn decide_one(&mut self, mut event: Event) {
        let record = decide(
            &self.engine.load(),
            &self.guard,
            &self.origin,
            &mut event,
            false,
            self.enforcing,
        );
        if self.decided.is_empty() {
            self.oldest = Instant::now();
        }
        self.decided.push(record);
    }

    /// Whether the policy in force could refuse `event` (enforce mode): only
    /// then must it be decided before it runs.
    pub fn can_refuse(&mut self, event: &Event) -> bool {
        let engine = self.engine.load();
        match &self.refusals {
            Some((of, r)) if Arc::ptr_eq(of, &engine) => r.can_refuse(event),
            _ => {
                let r = Refusals::of(&engine, &self.guard, self.origin.project.as_deref());
                let answer = r.can_refuse(event);
                self.refusals = Some((Arc::clone(&engine), r));
                answer
            }
        }
    }

    /// The name the policy in force refuses the file `(dev, ino)` by, when
    /// it is a refused file with other names ([`super::linked`]).
    pub fn other_name(&self, dev: u64, ino: u64) -> Option<String> {
        super::linked::Names::for_engine(&self.engine.load())
            .name_of(dev, ino)
            .map(str::to_string)
    }

    /// Whether writing the trail has failed (nothing is recorded since).
    pub fn trail_failed(&self) -> bool {
        self.failed.is_some()
    }

    /// Decide a call before it runs (enforce mode) and record it, before the
    /// verdict is returned; with `record_allowed` false an allowed call is
    /// not recorded (a second check of a call already in the trail). `None`
    /// when the trail cannot be written.
    pub fn decide_and_record(&mut self, mut event: Event, record_allowed: bool) -> Option<Action> {
        // Calls queued earlier go first: the trail keeps their order.
        self.flush();
        let record = decide(
            &self.engine.load(),
            &self.guard,
            &self.origin,
            &mut event,
            true,
            true,
        );
        let action = action_of(&record);
        if allows(action) && !record_allowed {
            return Some(action);
        }
        self.decided.push(record);
        self.write();
        self.failed.is_none().then_some(action)
    }

    /// Write everything queued, fsync, and return what was recorded (and,
    /// if the trail failed, what was not).
    pub fn finish(mut self) -> Result<Stats> {
        self.flush();
        if let Some(e) = self.failed.take() {
            let error = format!("{e:#}");
            if self.unwritten > 0 {
                let o = &self.origin;
                let note = Record::unwritten(&o.agent, &o.session, self.unwritten, &error);
                if let Err(e) = self.chain.note_loss(note) {
                    tracing::error!("cannot write the record of the loss either: {e}");
                }
            }
            self.stats.unwritten = self.unwritten;
            self.stats.write_error = Some(error);
            return Ok(self.stats);
        }
        self.chain.sync()?;
        Ok(self.stats)
    }

    fn write(&mut self) {
        if self.decided.is_empty() {
            return;
        }
        if self.failed.is_some() {
            self.unwritten += self.decided.len() as u64;
            self.decided.clear();
            return;
        }
        if let Err(e) = self.chain.append(&mut self.decided) {
            self.fail(e.into());
            // Not written: an empty hash (see `Chain::append`).
            let before = self.decided.len();
            self.decided.retain(|r| !r.hash.is_empty());
            self.unwritten += (before - self.decided.len()) as u64;
        }
        if self.print_denials {
            for r in self.decided.iter().filter(|r| !allows(action_of(r))) {
                eprintln!("{}", denial_line(r));
            }
        }
        self.stats.count(&self.decided, &self.chain);
        self.decided.clear();
    }

    fn fail(&mut self, e: anyhow::Error) {
        tracing::error!("cannot write the audit trail: {e:#}");
        self.failed.get_or_insert(e);
    }
}
