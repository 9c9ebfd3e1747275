//! The `rampart.audit.v1` hash-chained JSONL trail, compatible with Go Rampart.
//!
//! This module owns everything about the trail on disk: the [`Record`] shape
//! and its canonical bytes ([`record`]), the writer that appends records to
//! the chain under a directory lock ([`chain`]), file naming, rotation and
//! continuation headers ([`files`]), reading records back ([`reader`]),
//! reading a whole trail in one pass with the chain checked as it goes
//! ([`scan`]), following a trail as it grows ([`follow`]), the anchored end
//! of a trail ([`anchor`]) and the verdict on
//! a trail ([`verify`](mod@verify)). It never
//! decides anything about a call and never drops or rewrites a record that
//! is already on disk.
//!
//! The chain: each record's `hash` is `"sha256:" + hex(SHA-256(prev_hash ‖ J))`
//! where `J` is the record serialised with `"hash":""` exactly as Go's
//! `encoding/json` writes it. The first record of a trail has `prev_hash: ""`;
//! every file after the first starts with an unhashed header
//! `{"chain_continue":"<last hash>","prev_file":"<previous file>"}`.

pub mod anchor;
pub mod chain;
pub mod files;
pub mod follow;
mod fsync;
pub mod reader;
pub mod record;
pub mod scan;
pub mod verify;
pub mod writers;

pub use chain::{Chain, ChainOptions, DEFAULT_ROTATE_BYTES, DEFAULT_SYNC_INTERVAL};
pub use files::{default_audit_dir, Header, LOCK_FILE_NAME};
pub use follow::Follower;
pub use reader::{IssueKind, Location, ReadIssue, Reader};
pub use record::{Host, Record, RecordDecision, BLOCKED, HASH_PREFIX, LOST_TOOL, SCHEMA_VERSION};
pub use scan::{VerifyFailure, VerifyReport};
pub use verify::{verify, verify_with};
