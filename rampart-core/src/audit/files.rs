//! The trail's files: names, chain order, continuation headers, the
//! directory lock and reading a file's last line.
//!
//! Owns the layout Go Rampart uses: one file a UTC day `YYYY-MM-DD.jsonl`,
//! size rotation to `YYYY-MM-DD.pN.jsonl` (N from 1), chain order by date
//! then N (so `.p10` follows `.p9`), and the unhashed header
//! `{"chain_continue":"<last hash>","prev_file":"<previous file>"}` that opens
//! every file after the first. It never writes a record and never modifies an
//! existing file.

use std::fs::{self, File, OpenOptions};
use std::io::{self, ErrorKind};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::record::write_json_string;

/// Name of the lock file every writer of a directory holds while appending.
pub const LOCK_FILE_NAME: &str = ".audit.lock";

/// `~/.rampart/audit` (`$HOME` from the environment), or `None` without a home.
pub fn default_audit_dir() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|home| PathBuf::from(home).join(".rampart").join("audit"))
}

/// The name of a chain file: `YYYY-MM-DD.jsonl` for `seq` 0, else
/// `YYYY-MM-DD.pN.jsonl`.
pub fn chain_file_name(date: &str, seq: u32) -> String {
    if seq == 0 {
        format!("{date}.jsonl")
    } else {
        format!("{date}.p{seq}.jsonl")
    }
}

/// The UTC date and rotation number of a chain file name, or `None` for a
/// name the writer never makes.
pub fn parse_chain_file_name(name: &str) -> Option<(&str, u32)> {
    let stem = name.strip_suffix(".jsonl")?;
    if stem.len() < 10 || !stem.is_char_boundary(10) {
        return None;
    }
    let (date, rest) = stem.split_at(10);
    if !is_date(date) {
        return None;
    }
    if rest.is_empty() {
        return Some((date, 0));
    }
    let seq = rest.strip_prefix(".p")?;
    if seq.is_empty() || !seq.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match seq.parse::<u32>() {
        Ok(n) if n >= 1 => Some((date, n)),
        _ => None,
    }
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
        && chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
}

/// Sort key putting files in chain order: chain files by date then rotation
/// number, any other name by the name itself.
pub fn chain_order_key(path: &Path) -> (String, u32, String) {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match parse_chain_file_name(&name) {
        Some((date, seq)) => (date.to_string(), seq, name.clone()),
        None => (name.clone(), 0, name),
    }
}

/// Sorts paths into chain order.
pub fn sort_chain_order(paths: &mut [PathBuf]) {
    paths.sort_by_cached_key(|p| chain_order_key(p));
}

/// Every `*.jsonl` regular file directly inside `dir`, in chain order.
pub fn jsonl_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if !name.to_string_lossy().ends_with(".jsonl") {
            continue;
        }
        if entry.file_type()?.is_file() {
            files.push(entry.path());
        }
    }
    sort_chain_order(&mut files);
    Ok(files)
}

/// The names of the files the writer manages in `dir` (`YYYY-MM-DD.jsonl`,
/// `YYYY-MM-DD.pN.jsonl`), in chain order.
pub(crate) fn managed_files(dir: &Path) -> io::Result<Vec<String>> {
    let mut names: Vec<String> = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if parse_chain_file_name(&name).is_some() && entry.file_type()?.is_file() {
            names.push(name);
        }
    }
    names.sort_by_cached_key(|n| {
        let (date, seq) = parse_chain_file_name(n).expect("filtered above");
        (date.to_string(), seq)
    });
    Ok(names)
}

/// The unhashed first line of every file after the first: where the chain
/// continues from.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Header {
    /// Hash of the last record before this file (`""` if there is none).
    pub chain_continue: String,
    /// Base name of the file before this one in chain order.
    pub prev_file: String,
}

impl Header {
    /// The header line as Go writes it (a map: keys sorted), with newline.
    pub fn to_line(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        out.extend_from_slice(b"{\"chain_continue\":");
        write_json_string(&mut out, &self.chain_continue);
        out.extend_from_slice(b",\"prev_file\":");
        write_json_string(&mut out, &self.prev_file);
        out.extend_from_slice(b"}\n");
        out
    }

    /// The header in `line`, when `line` is one: a JSON object with both
    /// string keys `chain_continue` and `prev_file`.
    pub fn parse(line: &[u8]) -> Option<Header> {
        #[derive(Deserialize)]
        struct Loose {
            chain_continue: Option<String>,
            prev_file: Option<String>,
        }
        let loose: Loose = serde_json::from_slice(line).ok()?;
        Some(Header {
            chain_continue: loose.chain_continue?,
            prev_file: loose.prev_file?,
        })
    }
}

/// Creates `dir` (and missing parents) with mode 0700.
pub(crate) fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| annotate(e, "create audit directory", dir))
}

/// Creates a new chain file (mode 0600), failing if it exists.
pub(crate) fn create_new_chain_file(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .append(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| annotate(e, "create audit file", path))
}

/// Opens an existing chain file for appending.
pub(crate) fn open_chain_file_for_append(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(|e| annotate(e, "open audit file", path))
}

/// An `io::Error` of the same kind whose message names what failed and where.
pub(crate) fn annotate(e: io::Error, what: &str, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()))
}

/// The lock file of an audit directory; writers hold it exclusively (flock)
/// while they look at the chain's tail and append.
pub(crate) struct DirLock {
    file: File,
}

impl DirLock {
    pub(crate) fn open(dir: &Path) -> io::Result<DirLock> {
        let path = dir.join(LOCK_FILE_NAME);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|e| annotate(e, "open audit lock", &path))?;
        Ok(DirLock { file })
    }

    /// Blocks until this process holds the directory exclusively.
    pub(crate) fn lock(&self) -> io::Result<DirLockGuard> {
        loop {
            // SAFETY: flock on a descriptor this struct owns.
            let rc = unsafe { libc::flock(self.file.as_raw_fd(), libc::LOCK_EX) };
            if rc == 0 {
                return Ok(DirLockGuard {
                    fd: self.file.as_raw_fd(),
                });
            }
            let err = io::Error::last_os_error();
            if err.kind() != ErrorKind::Interrupted {
                return Err(io::Error::new(
                    err.kind(),
                    format!("lock audit directory: {err}"),
                ));
            }
        }
    }
}

/// Holds the directory lock until dropped. It must not outlive the
/// [`DirLock`] it came from (it keeps only the descriptor number, so the
/// writer can use itself mutably while it holds the lock).
pub(crate) struct DirLockGuard {
    fd: std::os::unix::io::RawFd,
}

impl Drop for DirLockGuard {
    fn drop(&mut self) {
        // SAFETY: the descriptor belongs to the DirLock, which outlives the
        // guard in every use (both live in one function or the Chain).
        unsafe {
            libc::flock(self.fd, libc::LOCK_UN);
        }
    }
}

/// What the end of a file holds.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Tail {
    /// File size in bytes.
    pub size: u64,
    /// The last complete non-blank line (without newline) and its byte offset.
    pub last_line: Option<(Vec<u8>, u64)>,
    /// The file ends in bytes after the last newline: an unfinished write.
    pub torn: bool,
}

const TAIL_CHUNK: u64 = 64 * 1024;

/// Reads the last complete line of `file` without reading the whole file.
pub(crate) fn read_tail(file: &File) -> io::Result<Tail> {
    let size = file.metadata()?.len();
    if size == 0 {
        return Ok(Tail {
            size,
            last_line: None,
            torn: false,
        });
    }
    let mut last = [0u8; 1];
    file.read_exact_at(&mut last, size - 1)?;
    let torn = last[0] != b'\n';
    // `end` is the offset of the newline that closes the candidate line.
    let mut end = if torn {
        match rfind_newline(file, size)? {
            Some(pos) => pos,
            None => {
                return Ok(Tail {
                    size,
                    last_line: None,
                    torn,
                })
            }
        }
    } else {
        size - 1
    };
    loop {
        let start = rfind_newline(file, end)?.map_or(0, |p| p + 1);
        let mut line = vec![0u8; (end - start) as usize];
        file.read_exact_at(&mut line, start)?;
        if !line.trim_ascii().is_empty() {
            return Ok(Tail {
                size,
                last_line: Some((line, start)),
                torn,
            });
        }
        if start == 0 {
            return Ok(Tail {
                size,
                last_line: None,
                torn,
            });
        }
        end = start - 1;
    }
}

/// Offset of the last `\n` strictly before `before`.
fn rfind_newline(file: &File, before: u64) -> io::Result<Option<u64>> {
    let mut hi = before;
    let mut buf = vec![0u8; TAIL_CHUNK as usize];
    while hi > 0 {
        let lo = hi.saturating_sub(TAIL_CHUNK);
        let chunk = &mut buf[..(hi - lo) as usize];
        file.read_exact_at(chunk, lo)?;
        if let Some(i) = chunk.iter().rposition(|&b| b == b'\n') {
            return Ok(Some(lo + i as u64));
        }
        hi = lo;
    }
    Ok(None)
}

/// The 1-based line number of the line starting at byte `offset`.
pub(crate) fn line_number_at(file: &File, offset: u64) -> io::Result<u64> {
    let mut buf = vec![0u8; TAIL_CHUNK as usize];
    let mut pos = 0u64;
    let mut newlines = 0u64;
    while pos < offset {
        let n = ((offset - pos) as usize).min(buf.len());
        file.read_exact_at(&mut buf[..n], pos)?;
        newlines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        pos += n as u64;
    }
    Ok(newlines + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn names_round_trip_and_sort_in_chain_order() {
        assert_eq!(chain_file_name("2026-03-01", 0), "2026-03-01.jsonl");
        assert_eq!(chain_file_name("2026-03-01", 12), "2026-03-01.p12.jsonl");
        assert_eq!(
            parse_chain_file_name("2026-03-01.p12.jsonl"),
            Some(("2026-03-01", 12))
        );
        assert_eq!(
            parse_chain_file_name("2026-03-01.jsonl"),
            Some(("2026-03-01", 0))
        );
        for bad in [
            "2026-03-01.p0.jsonl",
            "2026-03-01.p.jsonl",
            "2026-13-01.jsonl",
            "2026-03-01.1.jsonl",
            "audit.jsonl",
            "2026-03-01.json",
        ] {
            assert_eq!(parse_chain_file_name(bad), None, "{bad}");
        }
        let mut paths: Vec<PathBuf> = [
            "d/2026-03-02.jsonl",
            "d/2026-03-01.p10.jsonl",
            "d/2026-03-01.p2.jsonl",
            "d/2026-03-01.jsonl",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        sort_chain_order(&mut paths);
        let names: Vec<_> = paths.iter().map(|p| p.to_str().unwrap()).collect();
        assert_eq!(
            names,
            [
                "d/2026-03-01.jsonl",
                "d/2026-03-01.p2.jsonl",
                "d/2026-03-01.p10.jsonl",
                "d/2026-03-02.jsonl"
            ]
        );
    }

    #[test]
    fn header_line_is_go_map_json() {
        let header = Header {
            chain_continue: "sha256:ab".into(),
            prev_file: "2026-03-01.jsonl".into(),
        };
        assert_eq!(
            header.to_line(),
            b"{\"chain_continue\":\"sha256:ab\",\"prev_file\":\"2026-03-01.jsonl\"}\n"
        );
        assert_eq!(Header::parse(&header.to_line()), Some(header));
        assert_eq!(Header::parse(b"{\"chain_continue\":\"x\"}"), None);
    }

    #[test]
    fn tail_finds_last_complete_line_and_torn_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        let mut f = File::create(&path).unwrap();
        f.write_all(b"one\ntwo\n\n").unwrap();
        let tail = read_tail(&File::open(&path).unwrap()).unwrap();
        assert_eq!(tail.last_line, Some((b"two".to_vec(), 4)));
        assert!(!tail.torn);
        f.write_all(b"thr").unwrap();
        let tail = read_tail(&File::open(&path).unwrap()).unwrap();
        assert_eq!(tail.last_line, Some((b"two".to_vec(), 4)));
        assert!(tail.torn);
        assert_eq!(line_number_at(&File::open(&path).unwrap(), 4).unwrap(), 2);
        let big = "x".repeat(200_000);
        let mut f = File::create(&path).unwrap();
        write!(f, "{big}\n{big}\n").unwrap();
        let tail = read_tail(&File::open(&path).unwrap()).unwrap();
        assert_eq!(tail.last_line.unwrap().1, 200_001);
    }
}
