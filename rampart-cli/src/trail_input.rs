//! Trails given on the command line, as the readers of `rampart-core`
//! walk them: a directory, a `.jsonl` file, a compressed rotated file
//! (`.jsonl.gz`, `.jsonl.zst`, as log shippers keep them) or `-` for
//! standard input.
//!
//! Plain directories and files are passed through untouched. Anything
//! compressed, or standard input, is written out decompressed into a
//! private temporary directory (kept while the value lives), under its
//! own name less the compression suffix, beside the plain files of the
//! same directory, so the chain across rotated files is read in the same
//! order whatever was compressed. It only reads what it is given.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// The paths to read, and the temporary copies behind some of them.
pub struct TrailInput {
    pub paths: Vec<PathBuf>,
    /// Each decompressed copy (as text) and what it was given as.
    origins: Vec<(String, String)>,
    _tmp: Option<tempfile::TempDir>,
}

/// Opens a compressed file as its decompressed bytes.
type Decompress = fn(File) -> io::Result<Box<dyn Read>>;

/// How a file is compressed, by its name: its name without the suffix, and
/// how to read it.
fn compression(name: &str) -> Option<(&str, Decompress)> {
    if let Some(base) = name.strip_suffix(".gz") {
        return Some((base, |f| Ok(Box::new(flate2::read::MultiGzDecoder::new(f)))));
    }
    if let Some(base) = name.strip_suffix(".zst") {
        return Some((base, |f| Ok(Box::new(zstd::stream::read::Decoder::new(f)?))));
    }
    None
}

fn is_trail_name(name: &str) -> bool {
    let base = compression(name).map_or(name, |(b, _)| b);
    base.ends_with(".jsonl")
}

impl TrailInput {
    /// Resolve `given` (directories, files, compressed files, `-`).
    pub fn open(given: &[PathBuf]) -> Result<TrailInput> {
        let needs_copy = given.iter().any(|p| {
            p.as_os_str() == "-"
                || p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| compression(n).is_some())
                || (p.is_dir() && dir_has_compressed(p))
        });
        if !needs_copy {
            return Ok(TrailInput {
                paths: given.to_vec(),
                origins: Vec::new(),
                _tmp: None,
            });
        }
        let tmp = tempfile::Builder::new()
            .prefix("rampart-trail-")
            .tempdir()
            .context("cannot make a temporary directory for the decompressed trail")?;
        let mut paths = Vec::new();
        let mut origins = Vec::new();
        for (i, p) in given.iter().enumerate() {
            let into = tmp.path().join(i.to_string());
            std::fs::create_dir(&into)?;
            if p.as_os_str() == "-" {
                let out = into.join("stdin.jsonl");
                let mut f = File::create(&out)?;
                io::copy(&mut io::stdin().lock(), &mut f).context("cannot read standard input")?;
                f.flush()?;
                origins.push((out.display().to_string(), "<stdin>".to_string()));
                paths.push(out);
            } else if p.is_dir() {
                for entry in
                    std::fs::read_dir(p).with_context(|| format!("cannot read {}", p.display()))?
                {
                    let entry = entry?;
                    let name = entry.file_name();
                    // The anchor goes too: `audit verify` still checks that
                    // the trail reaches the end its writer anchored.
                    if name == rampart_core::audit::anchor::ANCHOR_FILE {
                        std::fs::copy(entry.path(), into.join(&name))?;
                        continue;
                    }
                    let Some(name) = name.to_str().filter(|n| is_trail_name(n)) else {
                        continue;
                    };
                    let out = copy_plain(&entry.path(), &into, name)?;
                    origins.push((
                        out.display().to_string(),
                        entry.path().display().to_string(),
                    ));
                }
                paths.push(into);
            } else {
                let name = p
                    .file_name()
                    .and_then(|n| n.to_str())
                    .with_context(|| format!("{}: not a trail file name", p.display()))?;
                if !is_trail_name(name) {
                    bail!(
                        "{}: a trail file ends in .jsonl, .jsonl.gz or .jsonl.zst",
                        p.display()
                    );
                }
                let out = copy_plain(p, &into, name)?;
                origins.push((out.display().to_string(), p.display().to_string()));
                paths.push(out);
            }
        }
        Ok(TrailInput {
            paths,
            origins,
            _tmp: Some(tmp),
        })
    }

    /// Whether some of the trails are decompressed copies (or stdin).
    pub fn is_copy(&self) -> bool {
        self._tmp.is_some()
    }

    /// `text` (a message naming files) with each decompressed copy named
    /// as it was given (`trail.jsonl.gz`, `<stdin>`).
    pub fn show(&self, text: &str) -> String {
        let mut out = text.to_string();
        // Longest first, so that no copy's name is a prefix of another's.
        let mut origins: Vec<&(String, String)> = self.origins.iter().collect();
        origins.sort_by_key(|(copy, _)| std::cmp::Reverse(copy.len()));
        for (copy, given) in origins {
            out = out.replace(copy.as_str(), given);
        }
        out
    }
}

fn dir_has_compressed(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|rd| {
        rd.flatten().any(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| compression(n).is_some() && is_trail_name(n))
        })
    })
}

/// `from` written into `dir` decompressed, under its name less the suffix.
fn copy_plain(from: &Path, dir: &Path, name: &str) -> Result<PathBuf> {
    let file = File::open(from).with_context(|| format!("cannot open {}", from.display()))?;
    let (base, mut reader): (&str, Box<dyn Read>) = match compression(name) {
        Some((base, open)) => (
            base,
            open(file).with_context(|| format!("cannot decompress {}", from.display()))?,
        ),
        None => (name, Box::new(file)),
    };
    let out = dir.join(base);
    let mut f = File::create(&out)?;
    io::copy(&mut reader, &mut f)
        .with_context(|| format!("cannot decompress {}", from.display()))?;
    f.flush()?;
    Ok(out)
}
