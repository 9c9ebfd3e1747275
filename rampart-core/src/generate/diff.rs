//! placeholder
pub struct PolicyDiff;
pub enum DiffKind {}
pub struct DiffEntry;
pub fn diff() {}
