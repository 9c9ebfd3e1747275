//! `rampart audit`: check the hash chain of the trail.

use std::path::Path;

use anyhow::Result;
use rampart_core::audit;

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Verify the whole chain across files and rotations (Go Rampart's
    /// trails included). On failure, name the first bad record (file:line)
    /// and why, and exit 1.
    Verify,
}

pub fn run(cmd: Command, audit_dir: &Path) -> Result<i32> {
    match cmd {
        Command::Verify => match audit::verify(&[audit_dir.to_path_buf()]) {
            Ok(report) => {
                println!(
                    "ok: {} records in {} files, chain intact ({})",
                    report.records,
                    report.files,
                    audit_dir.display()
                );
                Ok(0)
            }
            Err(failure) => {
                println!("{failure}");
                Ok(1)
            }
        },
    }
}
