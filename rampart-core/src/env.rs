//! The session's environment contract: every `RAMPART_*` variable that
//! `rampart run` (or a serve) hands the watched tree, its values, and how
//! they are read.
//!
//! Both sides use this module and nothing else: `rampart run` writes the
//! variables with these names and values, and the preload library
//! (`rampart-preload/src/state.rs`) and the trace backend's
//! `rampart __trace-exec` read them with these functions, so a value means
//! the same thing wherever it is read. It is `no_std` and allocation-free
//! (the library reads it inside other people's processes); it never looks
//! at the process environment itself: callers pass the bytes.
//!
//! A child cannot change these for itself: the library's exec hook puts
//! the session's values back (`rampart-preload/src/envp.rs`).

/// The first argument of `$RAMPART_BIN __trace-exec --argv0 ARGV0 -- PATH
/// ARGS...`: how the library hands a static or Go program to the trace
/// backend (the CLI parses that command apart from the user's commands).
pub const TRACE_EXEC: &core::ffi::CStr = c"__trace-exec";

/// What every variable of the contract starts with.
pub const PREFIX: &str = "RAMPART_";
/// Where the collector listens (a `SOCK_SEQPACKET` unix socket path).
pub const SOCKET: &str = "RAMPART_SOCKET";
/// [`MODE_ENFORCE`] or [`MODE_MONITOR`]; see [`enforces`].
pub const MODE: &str = "RAMPART_MODE";
/// [`ON`] or [`OFF`]: an enforced call with no verdict runs (on) or is
/// refused (off); see [`flag`].
pub const FAIL_OPEN: &str = "RAMPART_FAIL_OPEN";
/// How long an enforced call waits for its verdict, in decimal
/// milliseconds; see [`timeout_ms`].
pub const DECISION_TIMEOUT_MS: &str = "RAMPART_DECISION_TIMEOUT_MS";
/// The policy generation file (`crate::generation`), enforce mode only.
pub const POLICY_GEN: &str = "RAMPART_POLICY_GEN";
/// The `rampart` binary, for `rampart __trace-exec`.
pub const BIN: &str = "RAMPART_BIN";
/// [`ON`] when the tree runs under the filter of unhooked calls
/// (`crate::gadget`): the library then makes its system calls through the
/// gadget page, and hands static programs to no tracer (the filter already
/// sends their calls to the collector). Set by `rampart run`; see [`flag`].
pub const UNHOOKED: &str = "RAMPART_UNHOOKED";
/// The agent and session names the records carry.
pub const AGENT: &str = "RAMPART_AGENT";
pub const SESSION: &str = "RAMPART_SESSION";

pub const MODE_ENFORCE: &str = "enforce";
pub const MODE_MONITOR: &str = "monitor";
/// The one spelling of a flag that is on; anything else is off.
pub const ON: &str = "1";
pub const OFF: &str = "0";

/// How long an enforced call waits when [`DECISION_TIMEOUT_MS`] is unset
/// or not a number.
pub const DEFAULT_TIMEOUT_MS: u64 = 5000;
/// Longest wait accepted (one hour): a larger value is taken as this.
pub const MAX_TIMEOUT_MS: u64 = 3_600_000;

/// Whether a [`MODE`] value means enforcement: exactly [`MODE_ENFORCE`].
pub fn enforces(value: &[u8]) -> bool {
    value == MODE_ENFORCE.as_bytes()
}

/// Whether a flag's value ([`FAIL_OPEN`]) is on: exactly [`ON`]. Nothing
/// else (`true`, `yes`, empty) is on, so a value the writer never writes
/// turns nothing on.
pub fn flag(value: &[u8]) -> bool {
    value == ON.as_bytes()
}

/// A [`DECISION_TIMEOUT_MS`] value: decimal digits only, capped at
/// [`MAX_TIMEOUT_MS`]; [`DEFAULT_TIMEOUT_MS`] for anything else.
pub fn timeout_ms(value: &[u8]) -> u64 {
    if value.is_empty() || value.len() > 19 || !value.iter().all(u8::is_ascii_digit) {
        return DEFAULT_TIMEOUT_MS;
    }
    let n = value.iter().fold(0u64, |n, d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    });
    n.min(MAX_TIMEOUT_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_written_spellings_mean_anything() {
        assert!(enforces(b"enforce"));
        for v in [&b"Enforce"[..], b"enforce ", b"1", b"", b"monitor"] {
            assert!(!enforces(v), "{v:?}");
        }
        assert!(flag(b"1"));
        for v in [&b"true"[..], b"yes", b"on", b"0", b"", b" 1"] {
            assert!(!flag(v), "{v:?}");
        }
        assert_eq!(timeout_ms(b"250"), 250);
        assert_eq!(timeout_ms(b""), DEFAULT_TIMEOUT_MS);
        assert_eq!(timeout_ms(b"-1"), DEFAULT_TIMEOUT_MS);
        assert_eq!(timeout_ms(b"5s"), DEFAULT_TIMEOUT_MS);
        assert_eq!(timeout_ms(b"9999999999999999999"), MAX_TIMEOUT_MS);
    }
}
