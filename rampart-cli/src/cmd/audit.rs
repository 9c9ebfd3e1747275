//! `rampart audit`: check the hash chain of the trail.

use std::path::Path;

use anyhow::Result;
use rampart_core::audit;

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Verify the whole chain across files and rotations (Go Rampart's
    /// trails included). On failure, name the first bad record (file:line)
    /// and why, and exit 1; a torn record (a write that did not finish)
    /// is named too, and exits 1.
    Verify,
}

pub fn run(cmd: Command, audit_dir: &Path) -> Result<i32> {
    match cmd {
        Command::Verify => match audit::verify(&[audit_dir.to_path_buf()]) {
            // A torn record (a write that did not finish) is not a broken
            // chain, but the trail does not hold that record: not "ok".
            Ok(report) if !report.torn.is_empty() => {
                for t in &report.torn {
                    println!(
                        "{}:{}: the record there is torn: a write that did not finish \
                         (the writer was killed, or the disk filled); it is not in the trail",
                        t.file.display(),
                        t.line
                    );
                }
                println!(
                    "{} whole records in {} files, chain intact up to the torn record ({})",
                    report.records,
                    report.files,
                    audit_dir.display()
                );
                Ok(1)
            }
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
