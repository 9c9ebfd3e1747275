//! The check before a policy is handed back: every distinct learned call
//! is replayed against the policy as written (`replay: N/N observed calls
//! allowed`; anything less is an error that keeps the policy for
//! diagnosis), and the probe's calls that it must refuse are tried.
//!
//! Owns the replay's queries (the tool, project and domain each learned
//! call is asked with). It never changes the policy: it only loads it with
//! the engine and reports.

use super::destructive::is_destructive;
use super::eval::{Checker, Query};
use super::generalise::{Built, Keys, Learned};
use super::model::Stat;
use super::net;
use super::observe::Access;
use super::paths::{self, PathSets, Places};
use super::probe;
use super::summary::{GenerateError, Generated, Replay, Warning};

impl Built {
    /// Replays the learned calls and probes the policy; an error when a
    /// learned call would be denied.
    pub(crate) fn check(mut self, yaml: String) -> Result<Generated, GenerateError> {
        let checker = Checker::new(&yaml, "generated policy", self.places.home.as_deref())
            .map_err(|e| {
                GenerateError::Input(format!("the generated policy does not load: {e}"))
            })?;
        let replay = replay(&checker, &self.keys, &self.learned, &self.places);
        let ok = replay.allowed == replay.total;
        self.summary.replay = Some(replay);
        for admitted in probe::probe(&checker, &self.places) {
            self.summary.warnings.push(Warning {
                message: format!("probe: the policy admits {admitted}"),
                stat: Stat::default(),
            });
            self.summary.probe_admitted.push(admitted);
        }
        self.summary.warnings.sort();
        let g = Generated {
            yaml,
            summary: self.summary,
        };
        if ok {
            Ok(g)
        } else {
            Err(GenerateError::Replay(Box::new(g)))
        }
    }
}

fn replay(ev: &Checker, keys: &Keys, learned: &Learned, places: &Places) -> Replay {
    // (query, calls, what to show when denied)
    let mut calls: Vec<(Query<'_>, u64, &str)> = Vec::new();
    for (cmd, t) in &keys.exec {
        if !is_destructive(cmd) {
            calls.push((
                Query {
                    tool: "exec",
                    command: Some(cmd),
                    project: places.command_project(cmd),
                    ..Query::default()
                },
                t.count,
                cmd,
            ));
        }
    }
    let sets = PathSets::default();
    let write_tool = if learned.write_tools.contains("write") || learned.write_tools.is_empty() {
        "write"
    } else {
        learned
            .write_tools
            .iter()
            .next()
            .map_or("write", |s| s.as_str())
    };
    for (access, tool) in [(Access::Read, "read"), (Access::Write, write_tool)] {
        for (p, t) in &keys.files[access as usize] {
            if access == Access::Write
                && (sets.always_denied_write(p) || paths::shared_dir_itself(p, places))
            {
                continue;
            }
            if sets.is_sensitive(access, p) && paths::of_another_process(p) {
                continue; // never learned: see `paths::of_another_process`
            }
            calls.push((
                Query {
                    tool,
                    path: Some(p),
                    project: places.project_of(p).or_else(|| places.project_below(p)),
                    ..Query::default()
                },
                t.count,
                p,
            ));
        }
    }
    let mut domains = Vec::new();
    for url in keys.connects.keys() {
        domains.push(net::Endpoint::parse(url).map(|e| e.host));
    }
    for ((url, t), d) in keys.connects.iter().zip(&domains) {
        calls.push((
            Query {
                tool: "net",
                url: Some(url),
                domain: d.as_deref(),
                ..Query::default()
            },
            t.count,
            url,
        ));
    }
    for (p, t) in &keys.sockets {
        calls.push((
            Query {
                tool: "net",
                path: Some(p),
                ..Query::default()
            },
            t.count,
            p,
        ));
    }
    let mut fetch_domains = Vec::new();
    for m in keys.fetches.values() {
        for url in m.keys() {
            fetch_domains.push(net::Endpoint::parse(url).map(|e| e.host));
        }
    }
    let mut d = fetch_domains.iter();
    for (tool, m) in &keys.fetches {
        for (url, t) in m {
            let domain = d.next().and_then(|x| x.as_deref());
            calls.push((
                Query {
                    tool,
                    url: Some(url),
                    domain,
                    ..Query::default()
                },
                t.count,
                url,
            ));
        }
    }
    for (tool, s) in &keys.others {
        calls.push((
            Query {
                tool,
                ..Query::default()
            },
            s.count,
            tool,
        ));
    }
    // The calls are independent: spread them over the machine's threads.
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let chunk = calls.len().div_ceil(threads).max(1);
    let parts: Vec<Replay> = std::thread::scope(|s| {
        let handles: Vec<_> = calls
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    let mut r = Replay::default();
                    for (q, n, what) in part {
                        r.total += n;
                        if ev.admits(q) {
                            r.allowed += n;
                        } else {
                            r.denied.push(format!("{} {what}", q.tool));
                        }
                    }
                    r
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("replay thread"))
            .collect()
    });
    let mut r = Replay::default();
    for p in parts {
        r.allowed += p.allowed;
        r.total += p.total;
        r.denied.extend(p.denied);
    }
    r.denied.sort();
    r.denied.truncate(20);
    r
}
