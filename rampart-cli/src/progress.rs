//! A progress bar on stderr while a whole trail is read (`init
//! --from-audit`, `audit verify`): bytes read of the trail's total, with an
//! estimate of the time left. Only when stderr is a terminal; a pipe or a
//! log file gets nothing, and nothing on stdout changes.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// A bar fed by a byte counter the reader adds to.
pub struct Progress {
    read: Arc<AtomicU64>,
    shown: Option<(Arc<AtomicBool>, JoinHandle<()>)>,
}

/// The bytes of the trail files under `paths` (directories: their
/// `*.jsonl`).
fn total_bytes(paths: &[PathBuf]) -> u64 {
    let size = |p: &std::path::Path| std::fs::metadata(p).map_or(0, |m| m.len());
    paths
        .iter()
        .map(|p| {
            if p.is_dir() {
                rampart_core::audit::files::jsonl_files(p)
                    .map_or(0, |fs| fs.iter().map(|f| size(f)).sum())
            } else {
                size(p)
            }
        })
        .sum()
}

impl Progress {
    /// Start the bar for reading `paths`, labelled `what`; silent when
    /// stderr is not a terminal.
    pub fn start(paths: &[PathBuf], what: &'static str) -> Progress {
        let read = Arc::new(AtomicU64::new(0));
        if !std::io::stderr().is_terminal() {
            return Progress { read, shown: None };
        }
        let bar = ProgressBar::new(total_bytes(paths));
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta} left)",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_prefix(what);
        let stop = Arc::new(AtomicBool::new(false));
        let (r, s) = (read.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                bar.set_position(r.load(Ordering::Relaxed));
                std::thread::sleep(Duration::from_millis(100));
            }
            bar.set_position(r.load(Ordering::Relaxed));
            bar.finish_and_clear();
        });
        Progress {
            read,
            shown: Some((stop, thread)),
        }
    }

    /// The counter the reader adds the bytes it reads to.
    pub fn counter(&self) -> &AtomicU64 {
        &self.read
    }

    /// Take the bar off the screen.
    pub fn finish(self) {
        if let Some((stop, thread)) = self.shown {
            stop.store(true, Ordering::Relaxed);
            let _ = thread.join();
        }
    }
}
