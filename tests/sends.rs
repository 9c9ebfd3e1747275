//! Sends that carry their own address (`sendto`, `sendmsg`, `sendmmsg`,
//! TCP Fast Open, a raw `syscall(SYS_sendto)`) are net calls: recorded once
//! per destination per process on both backends, and decided under
//! enforcement, where a refused one sends nothing.

use std::net::UdpSocket;
use std::time::Duration;

use rampart_e2e::*;
use serde_json::Value;

/// A UDP socket on 127.0.0.1 that the sends can reach, and its port.
fn receiver() -> (UdpSocket, u16) {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let port = s.local_addr().unwrap().port();
    (s, port)
}

/// Datagrams waiting on `s`.
fn received(s: &UdpSocket) -> usize {
    let mut buf = [0u8; 16];
    let mut n = 0;
    while s.recv(&mut buf).is_ok() {
        n += 1;
    }
    n
}

fn net_records<'a>(records: &'a [Value], url: &str) -> Vec<&'a Value> {
    records
        .iter()
        .filter(|r| r["tool"] == "net" && r["request"]["url"] == url)
        .collect()
}

#[test]
fn each_destination_sent_to_is_a_net_call_once_on_both_backends() {
    for backend in ["preload", "trace"] {
        let sb = Sandbox::new();
        let probe = sb.probe("sends", &[]);
        let socks: Vec<(UdpSocket, u16)> = (0..5).map(|_| receiver()).collect();
        let p: Vec<String> = socks.iter().map(|(_, p)| p.to_string()).collect();
        let tcp = tcp_server();
        let mm = format!("{}:{}", p[2], p[3]);
        let tcp_port = tcp.to_string();
        let args = [
            "sendto", &p[0], "sendmsg", &p[1], "sendmmsg", &mm, "raw", &p[4], "fastopen", &tcp_port,
        ];
        let mut argv = vec![probe.to_str().unwrap()];
        argv.extend(args);
        let o = sb.run_backend(backend, &argv);
        assert_ok(&o);
        let out = stdout(&o);
        assert!(
            out.contains(&format!("sendmmsg {mm}: ok 4")),
            "{backend}: {out}"
        );
        // Everything arrived: watching changes nothing.
        let got: Vec<usize> = socks.iter().map(|(s, _)| received(s)).collect();
        assert_eq!(got, [3, 1, 2, 2, 3], "{backend}: {out}");
        let records = sb.records();
        for port in &p {
            let url = format!("udp://127.0.0.1:{port}");
            let r = net_records(&records, &url);
            assert_eq!(r.len(), 1, "{backend}: {url} recorded {} times", r.len());
        }
        let url = format!("tcp://127.0.0.1:{tcp}");
        assert_eq!(net_records(&records, &url).len(), 1, "{backend}: {url}");
    }
}

#[test]
fn a_send_to_a_denied_address_sends_nothing_on_both_backends() {
    for backend in ["preload", "trace"] {
        let sb = Sandbox::new();
        let probe = sb.probe("sends", &[]);
        let (allowed, a) = receiver();
        let mut denied: Vec<(UdpSocket, u16)> = (0..5).map(|_| receiver()).collect();
        // The IPv6 one, sent to with the 24-byte address length.
        let v6 = UdpSocket::bind("[::1]:0").unwrap();
        v6.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let v6_port = v6.local_addr().unwrap().port();
        denied.push((v6, v6_port));
        let d: Vec<String> = denied.iter().map(|(_, p)| p.to_string()).collect();
        let tcp = tcp_server();
        let rules: String = d
            .iter()
            .map(|p| format!("\"udp://*:{p}\", "))
            .chain([format!("\"tcp://*:{tcp}\"")])
            .collect();
        let policy = sb.path("policy.yaml");
        std::fs::write(
            &policy,
            format!(
                "version: \"1\"\ndefault_action: allow\npolicies:\n  - name: no-leaks\n    \
                 match:\n      tool: [\"net\"]\n    rules:\n      - action: deny\n        \
                 when:\n          url_matches: [{rules}]\n"
            ),
        )
        .unwrap();
        let mm = format!("{a}:{}", d[2]);
        let tcp_port = tcp.to_string();
        let o = sb
            .rampart()
            .args(["run", "--quiet", "--mode", "enforce", "--backend", backend])
            .arg("--policy")
            .arg(&policy)
            .arg("--")
            .arg(&probe)
            .args([
                "sendto", &d[0], "sendmsg", &d[1], "sendmmsg", &mm, "raw", &d[3], "fastopen",
                &tcp_port, "unspec", &d[4], "v6short", &d[5],
            ])
            .output()
            .unwrap();
        let out = stdout(&o);
        let expect = [
            format!("sendto {}: EACCES", d[0]),
            format!("sendmsg {}: EACCES", d[1]),
            format!("sendmmsg {mm}: ok 2 then EACCES"),
            format!("raw {}: EACCES", d[3]),
            format!("fastopen {tcp}: EACCES"),
            // AF_UNSPEC is sent as AF_INET; a 24-byte IPv6 address is one.
            format!("unspec {}: EACCES", d[4]),
            format!("v6short {}: EACCES", d[5]),
        ];
        assert_eq!(
            out.lines().collect::<Vec<_>>(),
            expect,
            "{backend}: {}",
            stderr(&o)
        );
        // Nothing reached a denied address; the allowed one got its two.
        for (s, port) in &denied {
            assert_eq!(received(s), 0, "{backend}: port {port} got datagrams");
        }
        assert_eq!(received(&allowed), 2, "{backend}");
        let records = sb.records();
        for (i, port) in d.iter().enumerate() {
            let url = if i == 5 {
                format!("udp://[::1]:{port}")
            } else {
                format!("udp://127.0.0.1:{port}")
            };
            let r = net_records(&records, &url);
            assert!(
                !r.is_empty() && r.iter().all(|r| r["decision"]["action"] == "deny"),
                "{backend}: {url}: {r:?}"
            );
        }
        let url = format!("tcp://127.0.0.1:{tcp}");
        let r = net_records(&records, &url);
        assert!(
            !r.is_empty() && r.iter().all(|r| r["decision"]["action"] == "deny"),
            "{backend}: {url}"
        );
    }
}
