//! One module per `rampart` subcommand: argument definitions and the code
//! that runs them. Logic that is not about the command line lives in
//! `rampart-core` or the collector.

pub mod audit;
pub mod completions;
pub mod doctor;
pub mod explain;
pub mod init;
pub mod log;
pub mod policy;
pub mod report;
pub mod run;
pub mod serve;
pub mod status;
pub mod test;
pub mod trace_exec;

/// A `--since` value (a duration back from now: 30m, 24h, 7d; or a date or
/// time) as the timestamp a record must reach, in the trail's RFC 3339 form
/// (records of equal precision sort as text). `None` when not given.
pub fn since_timestamp(since: Option<&str>) -> anyhow::Result<Option<String>> {
    since
        .map(|s| {
            rampart_core::generate::parse_when(s, chrono::Utc::now())
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true))
                .map_err(|e| anyhow::anyhow!("--since {s:?}: {e}"))
        })
        .transpose()
}
