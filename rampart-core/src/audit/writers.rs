//! Who is writing a trail, and who stopped writing it without closing it.
//!
//! Each open [`crate::audit::chain::Chain`] holds a *mark*: a file in the
//! audit directory's `.writers/` naming its process and when it opened,
//! locked (`flock`, exclusive) for as long as the writer lives and removed
//! when it closes. A writer that is killed (`kill -9` of `rampart run`, the
//! OOM killer) cannot remove its mark, but the kernel releases its lock: a
//! mark whose lock is free ([`dead`]) belongs to a run that was cut off,
//! whose command may have gone on making calls that no record holds.
//!
//! The next writer of the directory notes each such gap in the trail (a
//! `lost` record, [`crate::audit::record::Record::cut_off`]) and removes the
//! mark; until one does, `audit verify` reports the mark itself. So the
//! gap is told either way, and told once in the trail.
//!
//! Owns the marks' place and layout (`.writers/PID.NANOS`, one JSON object
//! `{"pid":123,"started":"2026-12-07T14:00:00Z"}`). Never reads or writes
//! the trail itself.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The directory of marks, inside the audit directory.
pub const WRITERS_DIR: &str = ".writers";

/// What a mark says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Writer {
    /// The writing process.
    pub pid: i32,
    /// When it opened the trail (RFC 3339).
    pub started: String,
}

/// This process's mark: held while it writes, removed when dropped.
pub struct Mark {
    _file: File,
    path: PathBuf,
}

impl Mark {
    /// Mark `dir` as written by this process from now on.
    pub fn take(dir: &Path) -> io::Result<Mark> {
        let marks = dir.join(WRITERS_DIR);
        match fs::DirBuilder::new().mode(0o700).create(&marks) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        let now = chrono::Utc::now();
        let me = Writer {
            pid: std::process::id() as i32,
            started: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        };
        let name = format!(
            "{}.{}",
            me.pid,
            now.timestamp_nanos_opt().unwrap_or_default()
        );
        // Made whole under another name (locked, written), then put in
        // place: a reader never finds a mark that is not its writer's yet.
        let making = marks.join(format!(".{name}"));
        let path = marks.join(name);
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&making)?;
        // SAFETY: flock on a descriptor we own; held until it is closed.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let e = io::Error::last_os_error();
            let _ = fs::remove_file(&making);
            return Err(e);
        }
        let mut text = serde_json::to_vec(&me).map_err(io::Error::other)?;
        text.push(b'\n');
        let placed = file
            .write_all(&text)
            .and_then(|()| fs::rename(&making, &path));
        if let Err(e) = placed {
            let _ = fs::remove_file(&making);
            return Err(e);
        }
        Ok(Mark { _file: file, path })
    }
}

impl Drop for Mark {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// A writer that stopped without closing the trail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dead {
    pub writer: Writer,
    /// Its mark, to [`settle`] once the gap is noted.
    pub mark: PathBuf,
}

/// The writers of `dir` that died with the trail open: marks nobody holds.
/// (A mark being written at this instant is skipped: its lock is taken
/// before its content.)
pub fn dead(dir: &Path) -> Vec<Dead> {
    let Ok(entries) = fs::read_dir(dir.join(WRITERS_DIR)) else {
        return Vec::new();
    };
    let mut out: Vec<Dead> = entries
        .flatten()
        .filter(|e| !e.file_name().as_encoded_bytes().starts_with(b"."))
        .filter_map(|e| {
            let path = e.path();
            let file = File::open(&path).ok()?;
            // SAFETY: flock on a descriptor we own, released when it closes.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
                return None; // its writer is alive
            }
            let writer = serde_json::from_reader(&file).ok()?;
            Some(Dead { writer, mark: path })
        })
        .collect();
    out.sort_by(|a, b| a.writer.started.cmp(&b.writer.started));
    out
}

/// A dead writer's mark taken by the writer that notes its gap: renamed
/// out of the others' sight, removed by [`Claim::noted`], put back if the
/// note could not be written.
pub struct Claim {
    claimed: PathBuf,
    mark: PathBuf,
    noted: bool,
}

impl Claim {
    /// The gap is in the trail.
    pub fn noted(mut self) {
        let _ = fs::remove_file(&self.claimed);
        self.noted = true;
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if !self.noted {
            let _ = fs::rename(&self.claimed, &self.mark);
        }
    }
}

/// Take `dead`'s mark, to note its gap in the trail: `None` when another
/// writer took it first (and notes it).
pub fn claim(dead: &Dead) -> Option<Claim> {
    let name = dead.mark.file_name()?.to_string_lossy().into_owned();
    let claimed = dead.mark.with_file_name(format!(".claimed.{name}"));
    fs::rename(&dead.mark, &claimed).ok()?;
    Some(Claim {
        claimed,
        mark: dead.mark.clone(),
        noted: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mark_is_live_while_held_and_dead_once_its_lock_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let mark = Mark::take(dir.path()).unwrap();
        assert!(dead(dir.path()).is_empty(), "its writer is alive");
        // A writer that died: its mark stays, its lock does not.
        let path = mark.path.clone();
        std::mem::forget(mark);
        let copy = dir.path().join(WRITERS_DIR).join("1.1");
        fs::copy(&path, &copy).unwrap();
        let found = dead(dir.path());
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].writer.pid, std::process::id() as i32);
        let claim = claim(&found[0]).expect("taken");
        assert!(super::claim(&found[0]).is_none(), "taken once");
        assert!(dead(dir.path()).is_empty(), "out of sight while claimed");
        drop(claim);
        assert_eq!(dead(dir.path()).len(), 1, "put back: its gap was not noted");
        super::claim(&found[0]).unwrap().noted();
        assert!(dead(dir.path()).is_empty());
    }
}
