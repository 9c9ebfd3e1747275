//! Policy generation from an audit trail (`rampart init --from-audit`).
//!
//! The generator reads [`Observation`]s (audit records) one at a time,
//! keeps only aggregated counts keyed by the call's command, path or URL,
//! and at the end writes a least-privilege Rampart policy (schema v1,
//! `default_action: deny`) that admits every learned call and as little
//! else as it can: exec rules by executable and subcommand, file rules with
//! volatile parts normalised and directories collapsed only past a
//! threshold, named baseline bundles, network rules by domain and port, and
//! deny policies for sensitive paths and destructive commands ahead of the
//! allows. Same records in any order give the same bytes.
//!
//! Before handing the policy back it replays every learned call against it
//! (`replay: N/N observed calls allowed`; anything less is an error) and
//! probes it with calls it must refuse. It never reads files or the clock:
//! the CLI passes records and the current time in.
//!
//! # Which file does what
//!
//! A call goes observe → aggregate → generalise → emit → replay:
//!
//! - `trail.rs`: reads trails on disk, one [`Generator`] per thread.
//! - `observe.rs`: what a record says and whether it may be learned at all.
//! - `aggregate.rs`: the [`Generator`]: counts per command, path and URL;
//!   combines threads; infers the home directory and the projects.
//! - `generalise.rs`: `Generator::build`: sorts the counts into what the
//!   rules will say (sensitive, bundle, file entry...), with help from
//!   `exec.rs` (commands: it reads them with `shell_words.rs` and splits
//!   them into head and classed operands with `command_parts.rs`),
//!   `paths.rs` (files: sensitive and system sets, collapsing; with
//!   `places.rs`, where a path lives, and `volatile.rs`, what in a name
//!   differs from run to run), `net.rs` (hosts, ports) and `baseline.rs`
//!   (bundles).
//! - `destructive.rs`: the commands every generated policy denies.
//! - `emit.rs`: the document: policies, grouped rules, comments, header;
//!   `Generator::finish`. `parts.rs`: the pieces it and `merge.rs` share
//!   (deny policies, allow and deny-rest rules, policy order).
//! - `self_tests.rs`: the `tests:` the policy carries (calls it learned,
//!   calls it must refuse), for `rampart test`.
//! - `replay.rs`: replays every learned call against the policy and runs
//!   `probe.rs`'s calls it must refuse, both through `eval.rs` (the engine).
//! - `model.rs`: the document's shapes and support comments; `render.rs`
//!   writes them as YAML and reads them back.
//! - `merge.rs` (`--merge`) and `diff.rs` (`rampart policy diff`) work on
//!   existing policies.
//! - `options.rs` and `summary.rs`: what goes in ([`Options`]) and what
//!   comes out ([`Generated`], [`Summary`], [`GenerateError`]).
//! - `when.rs`: `--since`/`--until` values.
//!
//! No file uses an item of a file that uses one of its own: the graph of
//! `super::` uses is acyclic, and only this file re-exports.

mod aggregate;
pub mod baseline;
mod command_parts;
mod destructive;
pub mod diff;
mod emit;
pub mod eval;
pub mod exec;
mod generalise;
pub mod merge;
pub mod model;
pub mod net;
pub mod observe;
mod options;
mod parts;
pub mod paths;
mod places;
pub mod probe;
pub mod render;
mod replay;
mod self_tests;
mod shell_words;
mod summary;
pub mod trail;
mod volatile;
pub mod when;

pub use aggregate::Generator;
pub use destructive::DESTRUCTIVE_COMMANDS;
pub use diff::{diff, DiffEntry, DiffKind, PolicyDiff};
pub use merge::merge;
pub use model::Stat;
pub use observe::{Observation, SkipReason};
pub use options::Options;
pub use summary::{Change, GenerateError, Generated, Replay, Summary, ToolSummary, Warning};
pub use when::{parse_when, WHEN_FORMS};

/// Generates a policy from `observations` in one call.
pub fn generate(
    observations: impl IntoIterator<Item = Observation>,
    opts: Options,
) -> Result<Generated, GenerateError> {
    let mut g = Generator::new(opts)?;
    for o in observations {
        g.observe(&o);
    }
    g.finish()
}
