//! Reading a trail directory as it grows (`rampart log --follow`): each
//! [`Follower::poll`] returns the records appended since the last poll, in
//! chain order, including those of files that appeared meanwhile (the
//! writer rotated). A last line without its newline is left for a later
//! poll: it may still be being written.
//!
//! It only reads, keeps one offset per file and never checks hashes (that is
//! [`crate::audit::verify()`]).

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::files::jsonl_files;
use super::reader::{classify, IssueKind, LineContent, Location, ReadIssue};
use super::record::Record;

/// How far each file of a directory has been read.
#[derive(Debug)]
pub struct Follower {
    /// Directories (every `*.jsonl` inside, in chain order) and files.
    sources: Vec<PathBuf>,
    /// Per file: bytes consumed (whole lines) and lines counted.
    read: HashMap<PathBuf, (u64, u64)>,
    /// Files whose last poll ended in a line without its newline.
    partial: Vec<PathBuf>,
}

impl Follower {
    /// A follower of `dir` that has read nothing yet: its first poll returns
    /// the whole trail.
    pub fn new(dir: &Path) -> Follower {
        Follower::of(&[dir.to_path_buf()])
    }

    /// A follower of several trails: directories and `.jsonl` files, read
    /// in the order given.
    pub fn of(sources: &[PathBuf]) -> Follower {
        Follower {
            sources: sources.to_vec(),
            read: HashMap::new(),
            partial: Vec::new(),
        }
    }

    /// The records (and reading issues) appended since the last poll.
    pub fn poll(&mut self) -> io::Result<Vec<Result<(Location, Record), ReadIssue>>> {
        let mut out = Vec::new();
        self.partial.clear();
        let mut files = Vec::new();
        for source in &self.sources {
            if !source.is_dir() {
                files.push(source.clone());
                continue;
            }
            match jsonl_files(source) {
                Ok(f) => files.extend(f),
                // A directory not made yet has nothing to show.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        for file in files {
            let (offset, lines) = self.read.get(&file).copied().unwrap_or((0, 0));
            let mut f = match File::open(&file) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            let (offset, lines) = if f.metadata()?.len() < offset {
                // Not a file that grows by appending (replaced): read it
                // again from its start.
                (0, 0)
            } else {
                (offset, lines)
            };
            f.seek(SeekFrom::Start(offset))?;
            let mut bytes = Vec::new();
            f.read_to_end(&mut bytes)?;
            let whole = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            let mut line_no = lines;
            for line in bytes[..whole].split_inclusive(|&b| b == b'\n') {
                let line = &line[..line.len() - 1];
                line_no += 1;
                match classify(line) {
                    LineContent::Blank | LineContent::Header(_) => {}
                    LineContent::Record(record) => out.push(Ok((
                        Location {
                            file: file.clone(),
                            line: line_no,
                        },
                        *record,
                    ))),
                    LineContent::Corrupt(why) => out.push(Err(ReadIssue {
                        file: file.clone(),
                        line: line_no,
                        kind: IssueKind::Corrupt(why),
                    })),
                }
            }
            if whole < bytes.len() {
                self.partial.push(file.clone());
            }
            self.read.insert(file, (offset + whole as u64, line_no));
        }
        Ok(out)
    }

    /// For a reading that will not wait: the last lines the last poll left
    /// because they had no newline, as torn lines (a write that did not
    /// finish), each with its file and line.
    pub fn torn(&self) -> Vec<ReadIssue> {
        self.partial
            .iter()
            .map(|file| ReadIssue {
                file: file.clone(),
                line: self.read.get(file).map_or(0, |&(_, lines)| lines) + 1,
                kind: IssueKind::Torn,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{Chain, ChainOptions, Record};

    fn append(chain: &mut Chain, n: usize, tag: &str) {
        let mut batch: Vec<Record> = (0..n)
            .map(|i| {
                let mut r = Record {
                    tool: "read".into(),
                    ..Record::default()
                };
                r.request
                    .insert("path".into(), format!("/{tag}/{i}").into());
                r
            })
            .collect();
        chain.append(&mut batch).unwrap();
    }

    fn paths(got: Vec<Result<(Location, Record), ReadIssue>>) -> Vec<String> {
        got.into_iter()
            .map(|r| r.unwrap().1.request["path"].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn a_file_replaced_by_a_shorter_one_is_read_again_and_loses_no_other_record() {
        let src = tempfile::tempdir().unwrap();
        let mut chain = Chain::open(src.path()).unwrap();
        append(&mut chain, 3, "s");
        let file = jsonl_files(src.path()).unwrap().pop().unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (
            dir.path().join("2026-01-01.jsonl"),
            dir.path().join("2026-01-02.jsonl"),
        );
        std::fs::write(&a, format!("{}\n", lines[0])).unwrap();
        std::fs::write(&b, &text).unwrap();
        let mut f = Follower::new(dir.path());
        assert_eq!(f.poll().unwrap().len(), 4);
        // The first file grows; the second is replaced by a shorter one.
        std::fs::write(&a, format!("{}\n{}\n{}\n", lines[0], lines[1], lines[2])).unwrap();
        std::fs::write(&b, format!("{}\n", lines[0])).unwrap();
        let got = paths(f.poll().unwrap());
        assert_eq!(
            got,
            ["/s/1", "/s/2", "/s/0"],
            "the growth of the first, then the second again"
        );
    }

    #[test]
    fn each_poll_returns_what_was_appended_across_rotation_and_waits_for_whole_lines() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = Follower::new(&dir.path().join("not-yet"));
        assert!(f.poll().unwrap().is_empty(), "no directory yet: nothing");
        let opts = ChainOptions {
            rotate_bytes: 2_000,
            ..ChainOptions::default()
        };
        let mut chain = Chain::open_with(dir.path(), opts).unwrap();
        let mut f = Follower::new(dir.path());
        append(&mut chain, 3, "a");
        assert_eq!(paths(f.poll().unwrap()), ["/a/0", "/a/1", "/a/2"]);
        assert!(f.poll().unwrap().is_empty());
        append(&mut chain, 20, "b");
        let files = jsonl_files(dir.path()).unwrap();
        assert!(files.len() > 1, "the writer rotated: {files:?}");
        let got = paths(f.poll().unwrap());
        assert_eq!(got.len(), 20);
        assert_eq!(got[0], "/b/0");
        assert_eq!(got[19], "/b/19");
        // Half a line (a write in progress) waits for its newline.
        let last = jsonl_files(dir.path()).unwrap().pop().unwrap();
        let mut half = std::fs::OpenOptions::new()
            .append(true)
            .open(&last)
            .unwrap();
        std::io::Write::write_all(&mut half, b"{\"id\":\"x").unwrap();
        assert!(f.poll().unwrap().is_empty());
        let torn = f.torn();
        assert_eq!(torn.len(), 1);
        assert_eq!((&torn[0].file, &torn[0].kind), (&last, &IssueKind::Torn));
    }
}
