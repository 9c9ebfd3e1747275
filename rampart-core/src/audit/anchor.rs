//! The trail's anchored end: `audit.anchor` beside the trail says which
//! file the last record written is in, where that file ended after it, and
//! its hash, so that `audit verify` notices a trail cut at its end (a hash
//! chain alone verifies any prefix of itself).
//!
//! Owns the anchor's name and layout (one JSON object:
//! `{"file":"2026-12-06.jsonl","size":12345,"last_hash":"sha256:..."}`),
//! its writing ([`write`]: a temporary file renamed over the old one, so a
//! reader sees the old anchor or the new one, never half of one) and its
//! check ([`check`]). The chain writes it under the directory lock: after
//! a batch, at most once a sync interval while batches keep coming, and
//! when it syncs or closes, so at rest it names the newest record unless a
//! writer died in between (then records after the anchor are fine, and
//! only a cut of those goes unnoticed). The anchor is
//! protected like the trail (self-protection refuses writes to the audit
//! directory). It never touches the trail files.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The anchor's file name in the audit directory.
pub const ANCHOR_FILE: &str = "audit.anchor";

/// What the anchor holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchor {
    /// The trail file the last record is in (a name in the same directory).
    pub file: String,
    /// That file's size in bytes just after the record.
    pub size: u64,
    /// The record's hash.
    pub last_hash: String,
}

/// Replace the anchor of `dir` with `anchor`, atomically.
pub fn write(dir: &Path, anchor: &Anchor) -> io::Result<()> {
    let tmp = dir.join(format!(".{ANCHOR_FILE}.tmp"));
    let mut text = serde_json::to_vec(anchor).map_err(io::Error::other)?;
    text.push(b'\n');
    let mut f = fs::File::create(&tmp)?;
    f.write_all(&text)?;
    drop(f);
    fs::rename(&tmp, dir.join(ANCHOR_FILE))
}

/// Why a trail does not reach its anchored end: `(file, reason)`.
pub type Cut = (PathBuf, String);

/// Check that the trail in `dir` still holds its anchored end: the
/// anchored file exists, is at least as long as it was, and the line that
/// ended at the anchored size is the anchored record. `Ok` when there is
/// no anchor (a trail from before anchors, or from Go Rampart).
pub fn check(dir: &Path) -> Result<(), Cut> {
    let path = dir.join(ANCHOR_FILE);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err((path, format!("cannot read the anchor: {e}"))),
    };
    let anchor: Anchor = serde_json::from_str(text.trim())
        .map_err(|e| (path.clone(), format!("the anchor is not valid: {e}")))?;
    if anchor.file.contains('/') || anchor.file.starts_with('.') {
        return Err((path, format!("the anchor names {:?}", anchor.file)));
    }
    let file = dir.join(&anchor.file);
    let bytes = fs::read(&file).map_err(|e| {
        (
            file.clone(),
            format!("the trail is cut at its end: the anchored file is gone ({e})"),
        )
    })?;
    let cut = |why: String| (file.clone(), format!("the trail is cut at its end: {why}"));
    let size = usize::try_from(anchor.size).unwrap_or(usize::MAX);
    if bytes.len() < size {
        return Err(cut(format!(
            "{} bytes, the anchor says {} were written",
            bytes.len(),
            anchor.size
        )));
    }
    let head = &bytes[..size];
    let last = head
        .strip_suffix(b"\n")
        .map(|h| h.rsplit(|&b| b == b'\n').next().unwrap_or(h))
        .unwrap_or(&[]);
    let hash = serde_json::from_slice::<serde_json::Value>(last)
        .ok()
        .and_then(|v| v.get("hash").and_then(|h| h.as_str()).map(str::to_string));
    if hash.as_deref() != Some(anchor.last_hash.as_str()) {
        return Err(cut(format!(
            "the record the anchor names ({}) is not where it was written",
            anchor.last_hash
        )));
    }
    Ok(())
}
