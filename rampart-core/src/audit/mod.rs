//! The `rampart.audit.v1` hash-chained JSONL trail.
//!
//! Placeholder: the trail is defined by the foundation issue.
