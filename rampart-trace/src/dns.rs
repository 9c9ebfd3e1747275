//! Reading DNS answers a tracee received, to name the addresses it later
//! connects to: a response maps each A/AAAA address (through CNAME chains)
//! back to the name the program asked for.
//!
//! Parsing only, of untrusted bytes: every offset is checked, compression
//! loops are bounded, and a malformed message yields nothing.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rampart_core::event::{Call, Event};

/// The file a resolver reads names from before it asks DNS.
pub const HOSTS: &str = "/etc/hosts";

/// Whether a call opened the hosts file (by that name or through a link).
pub fn opens_hosts_file(event: &Event) -> bool {
    matches!(&event.call, Call::Open { path, resolved, .. }
        if path == HOSTS || resolved.as_deref() == Some(HOSTS))
}

const TYPE_A: u16 = 1;
const TYPE_AAAA: u16 = 28;

/// The (address, first name) pairs of a hosts file (`hosts(5)`): one per
/// address, its first name (the canonical one), lowercased; comments,
/// blank and malformed lines are skipped, and a later line for an address
/// already named does not rename it (the resolver stops at the first).
pub fn hosts_file(text: &str) -> Vec<(IpAddr, String)> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut words = line.split_whitespace();
        let (Some(addr), Some(name)) = (words.next(), words.next()) else {
            continue;
        };
        let Ok(addr) = addr.parse::<IpAddr>() else {
            continue;
        };
        if seen.insert(addr) {
            out.push((addr, name.to_ascii_lowercase()));
        }
    }
    out
}

/// The (address, asked name) pairs in a DNS response, empty when `msg` is not
/// a well-formed response.
pub fn answers(msg: &[u8]) -> Vec<(IpAddr, String)> {
    parse(msg).unwrap_or_default()
}

fn u16_at(msg: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*msg.get(at)?, *msg.get(at + 1)?]))
}

/// Read a (possibly compressed) name at `at`; returns it and the offset just
/// past it in the message body.
fn name_at(msg: &[u8], mut at: usize) -> Option<(String, usize)> {
    let mut labels: Vec<String> = Vec::new();
    let mut end = None;
    for _ in 0..128 {
        let len = *msg.get(at)? as usize;
        match len {
            0 => {
                let name = labels.join(".").to_ascii_lowercase();
                return Some((name, end.unwrap_or(at + 1)));
            }
            l if l & 0xC0 == 0xC0 => {
                let ptr = (u16_at(msg, at)? & 0x3FFF) as usize;
                end.get_or_insert(at + 2);
                at = ptr;
            }
            l if l <= 63 => {
                let label = msg.get(at + 1..at + 1 + l)?;
                labels.push(String::from_utf8_lossy(label).into_owned());
                at += 1 + l;
            }
            _ => return None,
        }
    }
    None
}

fn parse(msg: &[u8]) -> Option<Vec<(IpAddr, String)>> {
    let flags = u16_at(msg, 2)?;
    if flags & 0x8000 == 0 {
        return None; // a query, not a response
    }
    let qdcount = u16_at(msg, 4)?;
    let ancount = u16_at(msg, 6)?;
    if qdcount == 0 {
        return None;
    }
    let mut at = 12;
    let mut asked = String::new();
    for i in 0..qdcount {
        let (name, next) = name_at(msg, at)?;
        if i == 0 {
            asked = name;
        }
        at = next + 4;
    }
    let mut out = Vec::new();
    for _ in 0..ancount {
        let (_owner, next) = name_at(msg, at)?;
        let rtype = u16_at(msg, next)?;
        let rdlen = u16_at(msg, next + 8)? as usize;
        let rdata = msg.get(next + 10..next + 10 + rdlen)?;
        match (rtype, rdlen) {
            (TYPE_A, 4) => out.push((
                IpAddr::V4(Ipv4Addr::new(rdata[0], rdata[1], rdata[2], rdata[3])),
                asked.clone(),
            )),
            (TYPE_AAAA, 16) => {
                let mut a = [0u8; 16];
                a.copy_from_slice(rdata);
                out.push((IpAddr::V6(Ipv6Addr::from(a)), asked.clone()));
            }
            _ => {}
        }
        at = next + 10 + rdlen;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hosts_file_names_each_address_by_its_first_name() {
        let text = "# comment\n127.0.0.1\tlocalhost\n::1 localhost ip6-localhost\n\n\
                    10.0.0.5 Build.Internal build # the build box\n\
                    10.0.0.5 other\nnot-an-address name\n192.168.1.1\n";
        let got = hosts_file(text);
        let named = |a: &str| {
            let a: IpAddr = a.parse().unwrap();
            got.iter().find(|(x, _)| *x == a).map(|(_, n)| n.as_str())
        };
        assert_eq!(named("127.0.0.1"), Some("localhost"));
        assert_eq!(named("::1"), Some("localhost"));
        assert_eq!(named("10.0.0.5"), Some("build.internal"));
        assert_eq!(named("192.168.1.1"), None);
        assert_eq!(got.len(), 3);
    }

    /// A response for `www.Example.com` with a CNAME and an A record, names compressed.
    fn response() -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0];
        m.extend(b"\x03www\x07Example\x03com\x00");
        m.extend([0, 1, 0, 1]);
        // CNAME www.example.com -> cdn.example.com
        m.extend([0xC0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 6]);
        m.extend(b"\x03cdn\xC0\x10");
        // A cdn.example.com -> 93.184.216.34
        m.extend([0xC0, 45, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 93, 184, 216, 34]);
        m
    }

    #[test]
    fn maps_addresses_to_the_asked_name_through_cnames() {
        assert_eq!(
            answers(&response()),
            vec![(
                "93.184.216.34".parse().unwrap(),
                "www.example.com".to_string()
            )]
        );
    }

    #[test]
    fn rejects_queries_and_truncated_messages() {
        let mut q = response();
        q[2] = 0x01; // QR bit clear: a query
        assert!(answers(&q).is_empty());
        let r = response();
        for cut in 0..r.len() {
            let _ = answers(&r[..cut]); // never panics
        }
        assert!(answers(&r[..r.len() - 3]).is_empty());
    }

    #[test]
    fn compression_loops_end() {
        let mut m = vec![0, 0, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0];
        m.extend([0xC0, 12]); // points at itself
        assert!(answers(&m).is_empty());
    }
}
