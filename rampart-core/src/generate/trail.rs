//! Learning from trails on disk: one [`audit::scan`](crate::audit::scan)
//! with a [`Generator`] per worker thread, combined into one.
//!
//! Owns what `init --from-audit` reads and how: every line parsed once, the
//! chain checked on the same pass (unless the caller opts out), corrupt and
//! torn lines noted in the generator's summary. It never builds rules and
//! never prints; the caller reports what the [`ScanReport`] lists.

use std::path::PathBuf;
use std::sync::atomic::AtomicU64;

use crate::audit::scan::{self, LineSink, Link, ScanReport};
use crate::audit::VerifyFailure;

use super::aggregate::Generator;
use super::observe;
use super::options::Options;
use super::summary::GenerateError;

impl LineSink for Generator {
    fn line<'l>(&mut self, line: &'l str) -> Result<Link<'l>, String> {
        let view = observe::LineRef::parse(line)?;
        if let Some(rec) = view.rec() {
            self.observe_rec(&rec);
        }
        Ok(view.link())
    }
}

/// Why nothing could be learned from the trails.
#[derive(Debug)]
pub enum TrailError {
    /// The options are wrong (a bad `--agent` glob, ...).
    Options(GenerateError),
    /// The chain does not hold, or a file cannot be read (line 0).
    Chain(VerifyFailure),
}

impl std::fmt::Display for TrailError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TrailError::Options(e) => write!(f, "{e}"),
            TrailError::Chain(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for TrailError {}

/// Reads the trails in `paths` into a generator made with `opts`, on
/// `threads` worker threads ([`scan::default_threads`] is a good choice);
/// with `verify`, the chain is checked as it is read and a trail that does
/// not hold is refused. The result does not depend on `threads`.
pub fn learn(
    paths: &[PathBuf],
    opts: &Options,
    verify: bool,
    threads: usize,
    progress: Option<&AtomicU64>,
) -> Result<(Generator, ScanReport), TrailError> {
    let sinks = (0..threads.max(1))
        .map(|_| Generator::new(opts.clone()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(TrailError::Options)?;
    let (sinks, report) =
        scan::scan_with(paths, verify, sinks, progress).map_err(TrailError::Chain)?;
    let mut sinks = sinks.into_iter();
    let mut g = sinks.next().expect("at least one sink");
    for other in sinks {
        g.absorb(other);
    }
    for u in &report.unreadable {
        g.note_corrupt(&u.at.to_string());
    }
    let unlisted = report.unreadable_count - report.unreadable.len() as u64;
    g.note_corrupt_unlisted(unlisted);
    for t in &report.chain.torn {
        g.note_corrupt(&format!("{t} (torn)"));
    }
    Ok((g, report))
}
