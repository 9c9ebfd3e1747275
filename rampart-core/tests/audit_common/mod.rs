//! Trails for the audit tests: real chains written by `audit::Chain`.

use std::path::{Path, PathBuf};

use rampart_core::audit::{Chain, ChainOptions, Reader, Record, RecordDecision};
use serde_json::{Map, Value};

/// One allowed call: agent, session, tool and request.
pub struct Call {
    pub agent: String,
    pub session: String,
    pub tool: &'static str,
    pub request: Map<String, Value>,
}

/// Writes `n` allowed calls made by `call` into a chain under `dir`,
/// `batch` records per append, rotating after `rotate_bytes`. Returns the
/// trail's files in chain order.
pub fn write_trail(
    dir: &Path,
    rotate_bytes: u64,
    n: usize,
    batch: usize,
    call: impl Fn(usize) -> Call,
) -> Vec<PathBuf> {
    let options = ChainOptions {
        rotate_bytes,
        ..ChainOptions::default()
    };
    let mut chain = Chain::open_with(dir, options).unwrap();
    for start in (0..n).step_by(batch) {
        let mut records: Vec<Record> = (start..(start + batch).min(n))
            .map(|i| {
                let c = call(i);
                Record::new(
                    &c.agent,
                    &c.session,
                    c.tool,
                    c.request,
                    RecordDecision {
                        action: "allow".into(),
                        ..Default::default()
                    },
                )
            })
            .collect();
        chain.append(&mut records).unwrap();
    }
    drop(chain);
    Reader::open(&[dir.to_path_buf()]).unwrap().files().to_vec()
}
