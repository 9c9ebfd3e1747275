//! Rampart's pure logic, shared by every other crate.
//!
//! - [`event`]: what an interceptor saw (an exec, an open, a connect, a
//!   mutation such as an unlink or a rename) and how it maps to a Rampart
//!   tool and request.
//! - [`elf`]: whether the preload library can watch a program (static and Go
//!   binaries it cannot), for the library's exec hooks and `rampart run`.
//! - [`env`]: the session's `RAMPART_*` variables, their values and how they
//!   are read, for `rampart run` and both interceptors.
//! - [`gadget`]: the fixed page from which the preload library's own system
//!   calls run past the enforce-mode filter of unhooked calls.
//! - [`wire`]: the binary frames between the preload library and the
//!   collector. Its encoder allocates nothing; Event <-> frame needs `event`.
//! - [`generation`]: the policy generation file's layout and reading, for
//!   the collector that writes it and both interceptors that read it.
//! - [`path`]: lexical path cleaning (Go's `filepath.Clean`), allocation-free
//!   for the library, owned strings for everyone else.
//! - [`ring`]: the shared-memory ring a watched process posts its records
//!   into, the library's producer and the collector's reader.
//! - [`loader`]: the dynamic loader run as a program, and the program it
//!   runs.
//! - [`shebang`]: a script's `#!` line as the kernel reads it: what an exec
//!   of the script really runs.
//! - [`screen`]: which opens (and mutations) a policy could refuse, in a form the preload
//!   library tests without allocating.
//! - [`tool`]: Rampart's tools as bits and the mutation ops: what a call is.
//! - [`policy`]: Rampart's YAML policies, loaded strictly and compiled into an
//!   [`policy::Engine`] that decides each call.
//! - [`audit`]: the hash-chained `rampart.audit.v1` JSONL trail: records, the
//!   chain, files, rotation, readers and verification.
//! - [`generate`]: turning an audit trail into a least-privilege policy.
//!
//! Features: without any, only the allocation-free `no_std` modules (`elf`,
//! `env`, `gadget`, `generation`, `loader`, `path`, `ring`, `screen`, `shebang`, the wire encoder) are built, for
//! the preload library; `event` adds the event model and Event <-> frame
//! (std, no YAML or globs), for the tracer; `full` (the default) adds
//! policies, the audit trail and the generator.
//!
//! This crate owns no sockets, no ptrace and no LD_PRELOAD: it is logic that
//! the interceptors and the CLI drive.
#![cfg_attr(not(feature = "event"), no_std)]

pub mod elf;
pub mod env;
pub mod gadget;
pub mod generation;
pub mod loader;
pub mod path;
pub mod ring;
pub mod screen;
pub mod shebang;
pub mod tool;
pub mod wire;

#[cfg(feature = "full")]
pub mod audit;
#[cfg(feature = "event")]
pub mod event;
#[cfg(feature = "full")]
pub mod generate;
#[cfg(feature = "full")]
pub mod policy;
