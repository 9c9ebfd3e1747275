//! The trace backend: a ptrace supervisor with a seccomp-bpf prefilter, for
//! static binaries, Go programs and raw syscalls.
//!
//! Placeholder: defined by the trace backend issue.
