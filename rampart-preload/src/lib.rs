//! `librampart_preload.so`: interposes libc's exec, open, connect and DNS
//! entry points in any dynamically linked process and reports each call to
//! the collector named by `RAMPART_SOCKET`.
//!
//! Placeholder: defined by the preload issue.
