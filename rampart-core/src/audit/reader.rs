//! Reading trails back: records of files and directories, in chain order.
//!
//! Owns turning paths into ordered files (a directory means every `*.jsonl`
//! inside it, in chain order) and files into records, each with its file and
//! line. A torn last line (a write that never finished) is tolerated and
//! reported; a corrupt line is reported with its file and line and reading
//! goes on. It never silently drops a line and never checks hashes (that is
//! [`crate::audit::verify()`]).

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

use super::files::{annotate, jsonl_files, sort_chain_order, Header};
use super::record::Record;

/// Where a record is: its file and 1-based line.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Location {
    pub file: PathBuf,
    pub line: u64,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// What is wrong with a line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IssueKind {
    /// The file ends in a line without its newline: a write that did not
    /// finish (a crash, a full disk) or one still under way.
    Torn,
    /// The line is not an audit record or chain header; why.
    Corrupt(String),
    /// The file could not be opened or read; the I/O error.
    Unreadable(String),
}

/// A line the reader could not turn into a record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadIssue {
    pub file: PathBuf,
    /// 1-based line number; 0 when the file itself could not be read.
    pub line: u64,
    pub kind: IssueKind,
}

impl ReadIssue {
    pub fn location(&self) -> Location {
        Location {
            file: self.file.clone(),
            line: self.line,
        }
    }
}

impl fmt::Display for ReadIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            IssueKind::Torn => write!(
                f,
                "{}:{}: torn last line (a write that did not finish)",
                self.file.display(),
                self.line
            ),
            IssueKind::Corrupt(why) => {
                write!(
                    f,
                    "{}:{}: corrupt line: {why}",
                    self.file.display(),
                    self.line
                )
            }
            IssueKind::Unreadable(why) => {
                write!(f, "{}: cannot read: {why}", self.file.display())
            }
        }
    }
}

impl std::error::Error for ReadIssue {}

/// Reads a file line by line, keeping the line number and whether the last
/// line ended with its newline.
pub(crate) struct LineScanner {
    reader: BufReader<File>,
    buf: Vec<u8>,
    number: u64,
}

impl LineScanner {
    pub(crate) fn open(path: &Path) -> io::Result<LineScanner> {
        let file = File::open(path).map_err(|e| annotate(e, "open", path))?;
        Ok(LineScanner {
            reader: BufReader::with_capacity(1 << 20, file),
            buf: Vec::with_capacity(4096),
            number: 0,
        })
    }

    /// Reads the next line: its number and whether it is complete (ended
    /// with a newline); `None` at end of file.
    pub(crate) fn next_line(&mut self) -> io::Result<Option<(u64, bool)>> {
        self.buf.clear();
        let n = self.reader.read_until(b'\n', &mut self.buf)?;
        if n == 0 {
            return Ok(None);
        }
        self.number += 1;
        let complete = self.buf.last() == Some(&b'\n');
        if complete {
            self.buf.pop();
        }
        Ok(Some((self.number, complete)))
    }

    /// The bytes of the line last read, without its newline.
    pub(crate) fn line(&self) -> &[u8] {
        &self.buf
    }
}

/// What a complete line holds.
pub(crate) enum LineContent {
    Blank,
    Header(Header),
    Record(Box<Record>),
    Corrupt(String),
}

/// Classifies a complete line (surrounding whitespace ignored, as Go does).
pub(crate) fn classify(line: &[u8]) -> LineContent {
    let line = line.trim_ascii();
    if line.is_empty() {
        return LineContent::Blank;
    }
    // One UTF-8 check of the whole line is cheaper than one per string.
    let line = match std::str::from_utf8(line) {
        Ok(text) => text,
        Err(e) => {
            return LineContent::Corrupt(format!(
                "not a valid audit record: invalid UTF-8 at column {}",
                e.valid_up_to() + 1
            ))
        }
    };
    match serde_json::from_str::<Record>(line) {
        Ok(record) if !record.id.is_empty() => LineContent::Record(Box::new(record)),
        Ok(_) => match Header::parse(line.as_bytes()) {
            Some(header) => LineContent::Header(header),
            None => LineContent::Corrupt(
                "an object that is neither an audit record (no id) nor a chain header".into(),
            ),
        },
        Err(e) => LineContent::Corrupt(json_error(&e)),
    }
}

/// A serde_json error without its "line 1" (the line is the file's).
fn json_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let what = text.split(" at line ").next().unwrap_or(&text);
    format!("not a valid audit record: {what} at column {}", e.column())
}

/// The files named by `paths`, grouped into chains: a directory is one chain
/// (its `*.jsonl` files in chain order); consecutive file arguments form one
/// chain, sorted into chain order (so a shell glob's `.p10` before `.p2`
/// does not matter).
pub(crate) fn chain_groups(paths: &[PathBuf]) -> io::Result<Vec<Vec<PathBuf>>> {
    let mut groups: Vec<Vec<PathBuf>> = Vec::new();
    let mut loose: Vec<PathBuf> = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|e| annotate(e, "read", path))?;
        if meta.is_dir() {
            if !loose.is_empty() {
                sort_chain_order(&mut loose);
                groups.push(std::mem::take(&mut loose));
            }
            groups.push(jsonl_files(path).map_err(|e| annotate(e, "list", path))?);
        } else {
            loose.push(path.clone());
        }
    }
    if !loose.is_empty() {
        sort_chain_order(&mut loose);
        groups.push(loose);
    }
    Ok(groups)
}

/// Iterates the records of audit files and directories in chain order.
///
/// Yields each record with its location, or a [`ReadIssue`] for a line that
/// is not one (torn, corrupt) or a file that cannot be read; it then goes on
/// with the next line or file. Chain headers are not records and are
/// skipped, as are blank lines.
pub struct Reader {
    files: Vec<PathBuf>,
    next_file: usize,
    scanner: Option<(usize, LineScanner)>,
}

impl Reader {
    /// A reader over `paths`: files, and directories (every `*.jsonl` inside,
    /// in chain order). A path that does not exist is an error.
    pub fn open(paths: &[PathBuf]) -> io::Result<Reader> {
        let files = chain_groups(paths)?.into_iter().flatten().collect();
        Ok(Reader {
            files,
            next_file: 0,
            scanner: None,
        })
    }

    /// The files this reader reads, in order.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }
}

impl Iterator for Reader {
    type Item = Result<(Location, Record), ReadIssue>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let Some((index, scanner)) = &mut self.scanner else {
                let index = self.next_file;
                let path = self.files.get(index)?;
                self.next_file += 1;
                match LineScanner::open(path) {
                    Ok(scanner) => self.scanner = Some((index, scanner)),
                    Err(e) => {
                        return Some(Err(ReadIssue {
                            file: path.clone(),
                            line: 0,
                            kind: IssueKind::Unreadable(e.to_string()),
                        }))
                    }
                }
                continue;
            };
            let file = &self.files[*index];
            let (number, complete) = match scanner.next_line() {
                Ok(Some(line)) => line,
                Ok(None) => {
                    self.scanner = None;
                    continue;
                }
                Err(e) => {
                    let issue = ReadIssue {
                        file: file.clone(),
                        line: scanner.number + 1,
                        kind: IssueKind::Unreadable(e.to_string()),
                    };
                    self.scanner = None;
                    return Some(Err(issue));
                }
            };
            if !complete {
                return Some(Err(ReadIssue {
                    file: file.clone(),
                    line: number,
                    kind: IssueKind::Torn,
                }));
            }
            match classify(scanner.line()) {
                LineContent::Blank | LineContent::Header(_) => continue,
                LineContent::Record(record) => {
                    return Some(Ok((
                        Location {
                            file: file.clone(),
                            line: number,
                        },
                        *record,
                    )))
                }
                LineContent::Corrupt(why) => {
                    return Some(Err(ReadIssue {
                        file: file.clone(),
                        line: number,
                        kind: IssueKind::Corrupt(why),
                    }))
                }
            }
        }
    }
}
