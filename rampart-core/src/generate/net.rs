//! Network rules: connects by domain (the DNS name the program resolved)
//! and port, raw addresses exact, loopback apart; Go Rampart `fetch` calls
//! by scheme, host and port.
//!
//! A host's port is kept unless the observations show it varies among high
//! ports (a server started on a free or random port each session): then the
//! rule admits, on that host, the narrowest of the usual dynamic ranges that
//! holds every observed port — 49152-65535 (IANA's dynamic ports),
//! 32768-65535 (the kernel's ephemeral range and above) or 10000-65535 —
//! and still no port below it, where databases, caches and ssh listen.
//!
//! Subdomains of one registrable domain may widen to `*.example.com` past a
//! threshold, written so the pattern stays anchored (`tcp://*.example.com:443`:
//! `*` never crosses `:` or `/` there); never over a public suffix or a
//! shared-tenancy suffix (`github.io`, `amazonaws.com`, ...), never for
//! addresses, never for loopback, never for `fetch` URLs.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use super::model::Stat;

/// Suffixes under which different names belong to different owners.
const SHARED_TENANCY: &[&str] = &[
    "github.io",
    "githubusercontent.com",
    "gitlab.io",
    "amazonaws.com",
    "cloudfront.net",
    "herokuapp.com",
    "azurewebsites.net",
    "cloudapp.net",
    "azureedge.net",
    "windows.net",
    "appspot.com",
    "googleusercontent.com",
    "googleapis.com",
    "firebaseapp.com",
    "web.app",
    "vercel.app",
    "netlify.app",
    "pages.dev",
    "workers.dev",
    "fly.dev",
    "onrender.com",
    "ngrok.io",
    "ngrok-free.app",
    "ngrok.app",
    "trycloudflare.com",
    "repl.co",
    "glitch.me",
    "blogspot.com",
    "wordpress.com",
    "surge.sh",
    "readthedocs.io",
    "now.sh",
    "deno.dev",
    "r2.dev",
    "supabase.co",
    "webhook.site",
    "pipedream.net",
    "requestbin.com",
    "duckdns.org",
    "no-ip.org",
    "ddns.net",
    "sslip.io",
    "nip.io",
    "localtest.me",
];

/// Second-level public suffixes (a short list of the common ones).
const TWO_LEVEL_SUFFIXES: &[&str] = &[
    "co.uk", "org.uk", "ac.uk", "gov.uk", "com.au", "net.au", "org.au", "co.nz", "co.jp", "ne.jp",
    "or.jp", "com.br", "com.cn", "com.tw", "com.hk", "co.in", "co.kr", "co.za", "com.mx", "com.ar",
    "com.tr", "com.sg",
];

/// A parsed connect URL: `scheme://host:port`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Endpoint {
    pub scheme: String,
    pub host: String,
    pub port: String,
}

impl Endpoint {
    pub fn parse(url: &str) -> Option<Endpoint> {
        let (scheme, rest) = url.split_once("://")?;
        let rest = rest.split(['/', '?', '#']).next()?;
        let (host, port) = if let Some(r) = rest.strip_prefix('[') {
            let (h, p) = r.split_once(']')?;
            (
                format!("[{h}]"),
                p.strip_prefix(':').unwrap_or("").to_string(),
            )
        } else {
            match rest.rsplit_once(':') {
                Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => {
                    (h.to_string(), p.to_string())
                }
                _ => (rest.to_string(), String::new()),
            }
        };
        if host.is_empty() {
            return None;
        }
        Some(Endpoint {
            scheme: scheme.to_ascii_lowercase(),
            host,
            port,
        })
    }

    fn authority(&self, host: &str) -> String {
        if self.port.is_empty() {
            format!("{}://{}", self.scheme, host)
        } else {
            format!("{}://{}:{}", self.scheme, host, self.port)
        }
    }

    pub fn is_address(&self) -> bool {
        self.host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok()
    }

    pub fn is_loopback(&self) -> bool {
        let h = self.host.trim_start_matches('[').trim_end_matches(']');
        h == "localhost"
            || h.ends_with(".localhost")
            || h.parse::<IpAddr>().is_ok_and(|a| a.is_loopback())
    }
}

/// One network rule before rendering.
#[derive(Clone, Debug, PartialEq)]
pub struct NetRule {
    pub patterns: Vec<String>,
    pub stat: Stat,
    pub loopback: bool,
    pub absorbed: Vec<String>,
}

/// The registrable base of a name, when it has one that may carry a
/// wildcard: two labels, three under a two-level public suffix.
fn wildcard_base(host: &str) -> Option<String> {
    if SHARED_TENANCY
        .iter()
        .any(|s| host == *s || host.ends_with(&format!(".{s}")))
    {
        return None;
    }
    let labels: Vec<&str> = host.split('.').collect();
    let two = labels.len().checked_sub(2).map(|i| labels[i..].join("."))?;
    let keep = if TWO_LEVEL_SUFFIXES.contains(&two.as_str()) {
        3
    } else {
        2
    };
    if labels.len() <= keep {
        return None;
    }
    Some(labels[labels.len() - keep..].join("."))
}

/// The longest label suffix shared by `hosts` (a `*.` prefix ignored), at
/// least `base`.
fn common_parent(hosts: &BTreeSet<String>, base: &str) -> String {
    let mut common: Option<Vec<&str>> = None;
    for h in hosts {
        let labels: Vec<&str> = h.trim_start_matches("*.").rsplit('.').collect();
        // A name's own label is not a parent: drop it unless it is a wildcard.
        let parents = if h.starts_with("*.") {
            &labels[..]
        } else {
            &labels[..labels.len() - 1]
        };
        common = Some(match common {
            None => parents.to_vec(),
            Some(c) => c
                .iter()
                .zip(parents)
                .take_while(|(a, b)| a == b)
                .map(|(a, _)| *a)
                .collect(),
        });
    }
    let mut labels = common.unwrap_or_default();
    labels.reverse();
    let parent = labels.join(".");
    if parent.len() > base.len() && parent.ends_with(&format!(".{base}")) {
        parent
    } else {
        base.to_string()
    }
}

/// Rules for inet connects: entries map a URL (`tcp://host:port`) to its
/// support. A URL already holding `*` (an earlier rule) is kept as it is.
pub fn connect_rules(entries: &BTreeMap<String, Stat>, threshold: usize) -> Vec<NetRule> {
    let mut rules = Vec::new();
    // (scheme, port, base) -> hosts
    let mut families: BTreeMap<(String, String, String), BTreeSet<String>> = BTreeMap::new();
    let mut parsed = Vec::new();
    for (url, stat) in entries {
        match Endpoint::parse(url) {
            Some(ep) if !url.contains('*') => parsed.push((url, ep, stat)),
            _ => rules.push(NetRule {
                patterns: vec![url.clone()],
                stat: stat.clone(),
                loopback: false,
                absorbed: vec![url.clone()],
            }),
        }
    }
    for (_, ep, _) in &parsed {
        if ep.is_address() || ep.is_loopback() {
            continue;
        }
        if let Some(base) = wildcard_base(&ep.host) {
            families
                .entry((ep.scheme.clone(), ep.port.clone(), base))
                .or_default()
                .insert(ep.host.clone());
        }
    }
    // Earlier wildcard rules count as members of their family.
    for r in &rules {
        if let Some(ep) = Endpoint::parse(&r.patterns[0]) {
            if let Some(base) = ep.host.strip_prefix("*.") {
                families
                    .entry((ep.scheme.clone(), ep.port.clone(), base.to_string()))
                    .or_default()
                    .insert(ep.host.clone());
            }
        }
    }
    // Wide families, each with the closest parent all its names share.
    let wide: BTreeMap<(String, String, String), String> = families
        .into_iter()
        .filter(|(_, hosts)| {
            hosts.len() >= threshold.max(2) || hosts.iter().any(|h| h.starts_with("*."))
        })
        .map(|(k, hosts)| {
            let parent = common_parent(&hosts, &k.2);
            (k, parent)
        })
        .collect();
    let mut widened: BTreeMap<String, NetRule> = BTreeMap::new();
    for (url, ep, stat) in parsed {
        let family = wildcard_base(&ep.host)
            .map(|b| (ep.scheme.clone(), ep.port.clone(), b))
            .filter(|_| !ep.is_address() && !ep.is_loopback())
            .and_then(|k| wide.get(&k).cloned());
        match family {
            Some(base) => {
                let pattern = ep.authority(&format!("*.{base}"));
                let r = widened.entry(pattern.clone()).or_insert_with(|| NetRule {
                    patterns: vec![pattern],
                    stat: Stat::default(),
                    loopback: false,
                    absorbed: Vec::new(),
                });
                r.stat.absorb(stat);
                r.absorbed.push(url.clone());
            }
            None => rules.push(NetRule {
                patterns: vec![url.clone()],
                stat: stat.clone(),
                loopback: ep.is_loopback(),
                absorbed: vec![url.clone()],
            }),
        }
    }
    // An earlier wildcard rule absorbs its new members.
    rules.retain(|r| {
        if let Some(w) = widened.get_mut(&r.patterns[0]) {
            w.stat.absorb(&r.stat);
            w.absorbed.extend(r.absorbed.iter().cloned());
            false
        } else {
            true
        }
    });
    rules.extend(widened.into_values());
    let mut rules = ephemeral_ports(rules);
    rules.sort_by(|a, b| a.patterns.cmp(&b.patterns));
    rules
}

/// Lower ends of the dynamic port ranges a varying port widens to.
pub const DYNAMIC_FLOORS: [u16; 3] = [49152, 32768, 10000];

/// `filepath.Match` patterns for the ports `lo..=hi` (decimal, no
/// leading zeros): digit classes, one pattern per aligned block.
pub fn port_patterns(lo: u32, hi: u32) -> Vec<String> {
    let mut out = Vec::new();
    range_patterns(lo, hi, &mut out);
    out
}

fn range_patterns(lo: u32, hi: u32, out: &mut Vec<String>) {
    if lo > hi {
        return;
    }
    let digits = lo.to_string().len();
    if digits < hi.to_string().len() {
        let top = 10u32.pow(digits as u32) - 1;
        range_patterns(lo, top, out);
        range_patterns(top + 1, hi, out);
        return;
    }
    // The largest block at `lo` whose last k digits are free and whose
    // head's last digit runs over a class: `3[3-9][0-9][0-9][0-9]`.
    for k in (0..digits).rev() {
        let unit = 10u32.pow(k as u32);
        if !lo.is_multiple_of(unit) || lo + unit - 1 > hi {
            continue;
        }
        let head = lo / unit;
        let mut end = head;
        while !(end + 1).is_multiple_of(10) && (end + 2) * unit - 1 <= hi {
            end += 1;
        }
        let (hs, he) = (head.to_string(), end.to_string());
        let mut p = hs[..hs.len() - 1].to_string();
        let (a, b) = (hs.as_bytes()[hs.len() - 1], he.as_bytes()[he.len() - 1]);
        if a == b {
            p.push(a as char);
        } else {
            p.push_str(&format!("[{}-{}]", a as char, b as char));
        }
        for _ in 0..k {
            p.push_str("[0-9]");
        }
        out.push(p);
        range_patterns((end + 1) * unit, hi, out);
        return;
    }
}

/// Merges the exact rules of one host whose observed ports vary among high
/// ports into one rule for the narrowest dynamic range holding them.
fn ephemeral_ports(rules: Vec<NetRule>) -> Vec<NetRule> {
    let mut by_host: BTreeMap<(String, String), Vec<(usize, u16)>> = BTreeMap::new();
    for (i, r) in rules.iter().enumerate() {
        let [pattern] = r.patterns.as_slice() else {
            continue;
        };
        let Some(ep) = Endpoint::parse(pattern).filter(|_| !pattern.contains(['*', '?', '[']))
        else {
            continue;
        };
        if let Ok(port) = ep.port.parse::<u16>() {
            if port >= DYNAMIC_FLOORS[2] {
                by_host
                    .entry((ep.scheme, ep.host))
                    .or_default()
                    .push((i, port));
            }
        }
    }
    let mut merged: Vec<NetRule> = Vec::new();
    let mut gone = vec![false; rules.len()];
    for ((scheme, host), members) in by_host {
        if members.len() < 2 {
            continue;
        }
        let low = members.iter().map(|m| m.1).min().unwrap_or(u16::MAX);
        let floor = DYNAMIC_FLOORS
            .iter()
            .copied()
            .find(|f| *f <= low)
            .unwrap_or(DYNAMIC_FLOORS[2]);
        let mut r = NetRule {
            patterns: port_patterns(floor.into(), 65535)
                .iter()
                .map(|p| format!("{scheme}://{host}:{p}"))
                .collect(),
            stat: Stat::default(),
            loopback: false,
            absorbed: Vec::new(),
        };
        for (i, _) in members {
            gone[i] = true;
            r.loopback |= rules[i].loopback;
            r.stat.absorb(&rules[i].stat);
            r.absorbed.extend(rules[i].absorbed.iter().cloned());
        }
        merged.push(r);
    }
    rules
        .into_iter()
        .zip(gone)
        .filter(|(_, g)| !g)
        .map(|(r, _)| r)
        .chain(merged)
        .collect()
}

/// Rules for `fetch` URLs: one per scheme, host and port, admitting any path
/// (`https://host/*`) and the bare origin when it was fetched.
pub fn fetch_rules(entries: &BTreeMap<String, Stat>) -> Vec<NetRule> {
    let mut by_origin: BTreeMap<String, NetRule> = BTreeMap::new();
    for (url, stat) in entries {
        let origin = match Endpoint::parse(url) {
            Some(ep) if !ep.host.contains(['*', '?', '[']) => ep.authority(&ep.host),
            _ => {
                by_origin.insert(
                    url.clone(),
                    NetRule {
                        patterns: vec![super::exec::exact_pattern(url)],
                        stat: stat.clone(),
                        loopback: false,
                        absorbed: vec![url.clone()],
                    },
                );
                continue;
            }
        };
        let r = by_origin.entry(origin.clone()).or_insert_with(|| NetRule {
            patterns: Vec::new(),
            stat: Stat::default(),
            loopback: Endpoint::parse(&origin).is_some_and(|e| e.is_loopback()),
            absorbed: Vec::new(),
        });
        let pattern = if url == &origin {
            origin.clone()
        } else {
            format!("{origin}/*")
        };
        if !r.patterns.contains(&pattern) {
            r.patterns.push(pattern);
            r.patterns.sort();
        }
        r.stat.absorb(stat);
        r.absorbed.push(url.clone());
    }
    by_origin.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(urls: &[&str]) -> BTreeMap<String, Stat> {
        urls.iter()
            .map(|u| (u.to_string(), Stat::one(u, 1)))
            .collect()
    }

    #[test]
    fn subdomains_widen_only_under_an_owned_base() {
        let r = connect_rules(
            &entries(&[
                "tcp://a.example.com:443",
                "tcp://b.example.com:443",
                "tcp://c.example.com:443",
            ]),
            3,
        );
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].patterns, ["tcp://*.example.com:443"]);
        let r = connect_rules(
            &entries(&[
                "tcp://a.github.io:443",
                "tcp://b.github.io:443",
                "tcp://c.github.io:443",
            ]),
            3,
        );
        assert_eq!(r.len(), 3);
        let r = connect_rules(
            &entries(&[
                "tcp://a.co.uk:443",
                "tcp://b.co.uk:443",
                "tcp://c.co.uk:443",
            ]),
            3,
        );
        assert_eq!(r.len(), 3);
    }

    #[test]
    fn ports_varying_in_the_ephemeral_range_widen_to_it_alone() {
        let r = connect_rules(
            &entries(&[
                "tcp://127.0.0.1:41234",
                "tcp://127.0.0.1:38000",
                "tcp://127.0.0.1:8080",
                "tcp://10.0.0.1:45000",
            ]),
            3,
        );
        assert_eq!(r.len(), 3, "{r:?}");
        let wide = r.iter().find(|r| r.patterns.len() > 1).unwrap();
        assert!(wide.loopback);
        assert_eq!(wide.stat.count, 2);
        let g: Vec<crate::policy::glob::Glob> = wide
            .patterns
            .iter()
            .map(|p| {
                crate::policy::glob::Glob::new(p, crate::policy::glob::GlobKind::Text).unwrap()
            })
            .collect();
        let admits = |port: u32| {
            let u = format!("tcp://127.0.0.1:{port}");
            g.iter().any(|g| g.is_match(&u))
        };
        for p in [32768, 32799, 33000, 45000, 59999, 60999, 65535] {
            assert!(admits(p), "{p}");
        }
        for p in [22, 4444, 6379, 8080, 9999, 32767, 10000] {
            assert!(!admits(p), "{p}");
        }
    }

    #[test]
    fn port_ranges_are_digit_classes() {
        let check = |lo: u32, hi: u32| {
            let ps = port_patterns(lo, hi);
            let globs: Vec<_> = ps
                .iter()
                .map(|p| {
                    crate::policy::glob::Glob::new(p, crate::policy::glob::GlobKind::Text).unwrap()
                })
                .collect();
            for port in 0..70000u32 {
                let m = globs.iter().any(|g| g.is_match(&port.to_string()));
                assert_eq!(
                    m,
                    (lo..=hi).contains(&port),
                    "{port} in {lo}..={hi}: {ps:?}"
                );
            }
            ps
        };
        assert_eq!(check(10000, 65535).len(), 5);
        check(32768, 65535);
        check(49152, 65535);
        check(1, 999);
    }

    #[test]
    fn addresses_and_loopback_stay_exact() {
        let r = connect_rules(
            &entries(&[
                "tcp://10.0.0.1:5432",
                "tcp://127.0.0.1:8080",
                "tcp://[::1]:80",
            ]),
            2,
        );
        assert_eq!(r.len(), 3);
        assert!(r.iter().filter(|r| r.loopback).count() == 2);
    }
}
