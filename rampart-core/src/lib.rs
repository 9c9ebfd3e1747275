//! Rampart's pure logic, shared by every other crate.
//!
//! - [`event`]: what an interceptor saw (an exec, an open, a connect, a
//!   mutation such as an unlink or a rename) and how it maps to a Rampart
//!   tool and request.
//! - [`env`]: the session's `RAMPART_*` variables, their values and how they
//!   are read, for `rampart run` and both interceptors (built without `full`).
//! - [`wire`]: the binary frames between the preload library and the collector.
//!   Its encoder allocates nothing and is the only part built without the `full`
//!   feature.
//! - [`screen`]: which opens (and mutations) a policy could refuse, in a form the preload
//!   library tests without allocating (built with the wire codec).
//! - [`policy`]: Rampart's YAML policies, loaded strictly and compiled into an
//!   [`policy::Engine`] that decides each call.
//! - [`audit`]: the hash-chained `rampart.audit.v1` JSONL trail: records, the
//!   chain, files, rotation, readers and verification.
//! - [`generate`]: turning an audit trail into a least-privilege policy.
//!
//! This crate owns no sockets, no ptrace and no LD_PRELOAD: it is logic that
//! the interceptors and the CLI drive.
#![cfg_attr(not(feature = "full"), no_std)]

pub mod env;
pub mod screen;
pub mod wire;

#[cfg(feature = "full")]
pub mod audit;
#[cfg(feature = "full")]
pub mod event;
#[cfg(feature = "full")]
pub mod generate;
#[cfg(feature = "full")]
pub mod policy;
