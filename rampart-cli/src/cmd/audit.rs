//! `rampart audit`: check the hash chain of the trail.

use std::path::Path;

use anyhow::Result;
use rampart_core::audit;

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Verify the whole chain across files and rotations (Go Rampart's
    /// trails included). On failure, name the first bad record (file:line)
    /// and why, and exit 1; a torn record (a write that did not finish)
    /// is named too, and so are `lost` records (calls the trail does not
    /// hold): both exit 1.
    Verify,
}

pub fn run(cmd: Command, audit_dir: &Path) -> Result<i32> {
    match cmd {
        Command::Verify => match audit::verify(&[audit_dir.to_path_buf()]) {
            Ok(report) => {
                // A torn record (a write that did not finish) is not a
                // broken chain, but the trail does not hold that record;
                // nor does it hold the calls its `lost` records count.
                for t in &report.torn {
                    println!(
                        "{}:{}: the record there is torn: a write that did not finish \
                         (the writer was killed, or the disk filled); it is not in the trail",
                        t.file.display(),
                        t.line
                    );
                }
                if report.lost > 0 {
                    println!(
                        "{} calls are not in the trail: its `lost` records count them \
                         (see `rampart log --tool lost`)",
                        report.lost
                    );
                }
                let complete = report.torn.is_empty() && report.lost == 0;
                println!(
                    "{}{} records in {} files, chain intact{} ({})",
                    if complete { "ok: " } else { "" },
                    report.records,
                    report.files,
                    if report.torn.is_empty() {
                        ""
                    } else {
                        " up to the torn record"
                    },
                    audit_dir.display()
                );
                Ok(if complete { 0 } else { 1 })
            }
            Err(failure) => {
                println!("{failure}");
                Ok(1)
            }
        },
    }
}
