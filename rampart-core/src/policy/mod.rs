//! Rampart YAML policies: strict loading, compiled matching, evaluation.
//!
//! Placeholder: the engine is defined by the foundation issue.
