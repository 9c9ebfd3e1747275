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
