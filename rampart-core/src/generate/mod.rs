//! Policy generation from an audit trail (`rampart init --from-audit`).
//!
//! Placeholder: defined by the generator issue.
