//! Events: what an interceptor saw a process do, before any policy looked at it.
//!
//! An [`Event`] is the common currency of both interceptors (the preload
//! library, through [`crate::wire`], and the ptrace tracer, in process). It
//! knows how to present itself as a Rampart tool (`exec`, `read`, `write`,
//! `net`) and request (the keys of the audit record), and which paths a
//! policy decides it on ([`Event::path_checks`]). It never decides
//! anything and never touches the disk.
//!
//! A mutation ([`Call::Mutate`]: `unlink`, `rename`, `link`, `symlink`,
//! `mkdir`, `chmod`, `chown`, `truncate`, `utimensat` and their variants)
//! is tool `write` with the request keys `op` (see [`Op`]), `path` (the path
//! it changes; for a rename or a link, the source), `new_path` (the new
//! name of a rename or a link) and `target` (a symlink's target as the
//! program wrote it: a string stored in the link, relative to the link's
//! directory if relative, never resolved and never decided). The names are
//! the arguments' names in the man pages (`rename(oldpath, newpath)`,
//! `symlink(target, linkpath)`); two keys rather than one because one holds
//! a path the policy decides and the other does not. Where the file
//! really changed is somewhere else than `path` or `new_path` say (a link
//! among their directories, or the last link that `chmod`, `chown`,
//! `truncate`, `utime` or `link` with `AT_SYMLINK_FOLLOW` follows),
//! `resolved` and `new_resolved` hold that place, as an open's `resolved`
//! holds the file it reached.

use std::net::IpAddr;

use serde_json::{Map, Value};

pub use crate::tool::Op;

/// Which interceptor saw the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Preload,
    Trace,
    /// A call made past the preload library's hooks in a program the
    /// library watches (an inline `syscall` instruction, an open libc makes
    /// inside itself, the loader's opens), seen by the filter of unhooked
    /// calls. Recorded and learned like any other, and decided by the
    /// policy's rules; the policy's default action reaches it through the
    /// Landlock floor, not the collector.
    Unhooked,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Preload => "preload",
            Source::Trace => "trace",
            Source::Unhooked => "unhooked",
        }
    }
}

/// What became of the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The call succeeded (for an exec: the new image was loaded).
    Ok,
    /// A non-blocking connect that returned `EINPROGRESS`: under way, not failed.
    InProgress,
    /// The call failed with this errno.
    Errno(i32),
    /// Not known: the interceptor asked before the call (enforce) and the
    /// outcome never came back, e.g. an exec that replaced the process.
    Unknown,
}

impl Outcome {
    /// The outcome as written in the audit record: `ok`, `in_progress`,
    /// `unknown`, or the errno's symbolic name (`ENOENT`).
    pub fn label(self) -> String {
        match self {
            Outcome::Ok => "ok".into(),
            Outcome::InProgress => "in_progress".into(),
            Outcome::Unknown => "unknown".into(),
            Outcome::Errno(e) => errno_name(e),
        }
    }

    pub fn succeeded(self) -> bool {
        matches!(self, Outcome::Ok | Outcome::InProgress)
    }
}

/// Transport protocol of an inet connect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    Tcp,
    Udp,
}

/// The call itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call {
    /// An exec of `path` (the resolved executable) with `argv`. `via`: this
    /// is the file the kernel loaded for an exec of the name `via` (a link
    /// to it, as `python3` is to `python3.11`, or a script it interprets),
    /// with the argv the new program got; the trace backend records it
    /// after the exec of the name when its command differs, and decides it
    /// again under enforce.
    Exec {
        path: String,
        argv: Vec<String>,
        via: Option<String>,
    },
    /// An open of `path` (absolute, cleaned: the name the program gave)
    /// with the `open(2)` flags; `resolved` is the file the kernel reached
    /// when that differs from `path` (a symbolic link, a `/proc/self` magic
    /// link, `..` across a link, an `openat2` `RESOLVE_*` root). The policy
    /// decides the open on both ([`Event::path_checks`]).
    Open {
        path: String,
        flags: i32,
        resolved: Option<String>,
    },
    /// A connect to an inet address; `domain` is the name the process resolved
    /// to that address, when one was seen.
    ConnectInet {
        addr: IpAddr,
        port: u16,
        proto: Proto,
        domain: Option<String>,
    },
    /// A connect to a unix socket at `path` (abstract sockets start with `@`).
    ConnectUnix { path: String },
    /// A call that changes the file system at `path` (absolute, cleaned)
    /// without opening it; `new_path` (absolute, cleaned) is set exactly for
    /// the ops with [`Op::has_new_path`], `target` (as written) for those
    /// with [`Op::has_target`].
    ///
    /// `resolved` and `new_resolved`: where the change lands, when the
    /// interceptor resolved it and it is not where `path` or `new_path`
    /// say.
    Mutate {
        op: Op,
        path: String,
        new_path: Option<String>,
        target: Option<String>,
        resolved: Option<String>,
        new_resolved: Option<String>,
    },
}

/// One intercepted call of one process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub pid: i32,
    pub ppid: i32,
    /// The executable of the calling process.
    pub exe: String,
    /// The calling process's working directory at the time of the call.
    pub cwd: String,
    pub source: Source,
    pub call: Call,
    pub outcome: Outcome,
    /// Some string (argv, a path) was cut to fit a wire frame.
    pub truncated: bool,
}

/// `open(2)` flags that make an open a write.
pub const WRITE_FLAGS: i32 =
    libc::O_WRONLY | libc::O_RDWR | libc::O_CREAT | libc::O_TRUNC | libc::O_APPEND;

impl Event {
    /// The Rampart tool this call is evaluated and recorded as.
    pub fn tool(&self) -> &'static str {
        match &self.call {
            Call::Exec { .. } => "exec",
            Call::Open { flags, .. } if flags & WRITE_FLAGS != 0 => "write",
            Call::Open { .. } => "read",
            Call::ConnectInet { .. } | Call::ConnectUnix { .. } => "net",
            Call::Mutate { .. } => "write",
        }
    }

    /// The paths a call is decided on when there may be more than one, each
    /// with the tool it is decided as. An open: its `path` and, where it
    /// differs, the file it `resolved` to, both as [`Event::tool`]. A
    /// mutation: its `path` as a write, a rename's or link's `new_path` as
    /// a write, and a link's or rename's `path` as a read too (a hard link
    /// to a secret is a second name to read it by, a rename another). A
    /// deny of any denies the call.
    /// `None` for the other calls, decided once as [`Event::tool`] with
    /// [`Event::path`].
    pub fn path_checks(&self) -> Option<impl Iterator<Item = (&'static str, &str)>> {
        let checks = match &self.call {
            Call::Open { path, resolved, .. } => {
                let tool = self.tool();
                [
                    Some((tool, path.as_str())),
                    resolved.as_deref().map(|r| (tool, r)),
                    None,
                ]
            }
            Call::Mutate {
                op, path, new_path, ..
            } => [
                Some(("write", path.as_str())),
                new_path.as_deref().map(|p| ("write", p)),
                (op.tools() & crate::tool::TOOL_READ != 0).then_some(("read", path.as_str())),
            ],
            _ => return None,
        };
        Some(checks.into_iter().flatten())
    }

    /// The command as Rampart's preload writes it: argv as POSIX shell words,
    /// the first word `argv[0]` when it names the executable, else its path.
    pub fn command(&self) -> Option<String> {
        match &self.call {
            Call::Exec { path, argv, .. } => Some(command_line(path, argv)),
            _ => None,
        }
    }

    /// The URL of an inet connect: `tcp://host:port` (IPv6 in brackets).
    pub fn url(&self) -> Option<String> {
        match &self.call {
            Call::ConnectInet {
                addr,
                port,
                proto,
                domain,
            } => {
                let scheme = match proto {
                    Proto::Tcp => "tcp",
                    Proto::Udp => "udp",
                };
                let host = match (domain, addr) {
                    (Some(d), _) => d.clone(),
                    (None, IpAddr::V6(a)) => format!("[{a}]"),
                    (None, IpAddr::V4(a)) => a.to_string(),
                };
                Some(format!("{scheme}://{host}:{port}"))
            }
            _ => None,
        }
    }

    /// The domain a policy's `domain_matches` sees: the resolved name, else
    /// the address.
    pub fn domain(&self) -> Option<String> {
        match &self.call {
            Call::ConnectInet { addr, domain, .. } => {
                Some(domain.clone().unwrap_or_else(|| addr.to_string()))
            }
            _ => None,
        }
    }

    /// The path a policy's `path_matches` sees (a mutation's first; all of
    /// them: [`Event::path_checks`]).
    pub fn path(&self) -> Option<&str> {
        match &self.call {
            Call::Open { path, .. } | Call::ConnectUnix { path } | Call::Mutate { path, .. } => {
                Some(path)
            }
            Call::Exec { .. } | Call::ConnectInet { .. } => None,
        }
    }

    /// The request object of the audit record, keys as in the design.
    pub fn request(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("pid".into(), self.pid.into());
        m.insert("ppid".into(), self.ppid.into());
        m.insert("exe".into(), self.exe.clone().into());
        m.insert("cwd".into(), self.cwd.clone().into());
        m.insert("source".into(), self.source.as_str().into());
        m.insert("outcome".into(), self.outcome.label().into());
        if self.truncated {
            m.insert("truncated".into(), true.into());
        }
        match &self.call {
            Call::Exec { path, argv, via } => {
                m.insert("command".into(), command_line(path, argv).into());
                m.insert(
                    "argv".into(),
                    Value::Array(argv.iter().cloned().map(Value::from).collect()),
                );
                m.insert("path".into(), path.clone().into());
                if let Some(via) = via {
                    m.insert("via".into(), via.clone().into());
                }
            }
            Call::Open {
                path,
                flags,
                resolved,
            } => {
                m.insert("path".into(), path.clone().into());
                m.insert("flags".into(), (*flags).into());
                if let Some(r) = resolved {
                    m.insert("resolved".into(), r.clone().into());
                }
            }
            Call::ConnectInet {
                addr, port, proto, ..
            } => {
                m.insert("url".into(), self.url().into());
                m.insert("domain".into(), self.domain().into());
                m.insert("address".into(), addr.to_string().into());
                m.insert("port".into(), (*port).into());
                let _ = proto;
            }
            Call::ConnectUnix { path } => {
                m.insert("path".into(), path.clone().into());
            }
            Call::Mutate {
                op,
                path,
                new_path,
                target,
                resolved,
                new_resolved,
            } => {
                m.insert("op".into(), op.as_str().into());
                m.insert("path".into(), path.clone().into());
                if let Some(p) = new_path {
                    m.insert("new_path".into(), p.clone().into());
                }
                if let Some(t) = target {
                    m.insert("target".into(), t.clone().into());
                }
                if let Some(r) = resolved {
                    m.insert("resolved".into(), r.clone().into());
                }
                if let Some(r) = new_resolved {
                    m.insert("new_resolved".into(), r.clone().into());
                }
            }
        }
        m
    }

    /// The errno a call the policy refuses fails with: `EPERM` for an exec
    /// (Go Rampart's preload contract) and for the mutations whose man page
    /// says so ([`Op::refused_errno`]), `EACCES` for the rest.
    pub fn denied_errno(&self) -> i32 {
        match &self.call {
            Call::Exec { .. } => libc::EPERM,
            Call::Mutate { op, .. } => op.refused_errno(),
            _ => libc::EACCES,
        }
    }

    /// The errno a refused call fails with, as the program sees it on
    /// either backend: [`Event::denied_errno`], except for an open that
    /// creates nothing of a path that does not exist, which fails as it
    /// would have anyway (`ENOENT`, `ENOTDIR`): programs probe for optional
    /// files and take `EACCES` as fatal. The path is looked at here, so
    /// call it where the program's file system is (not for `/proc/...`
    /// names, which are the caller's own).
    pub fn refused_errno(&self) -> i32 {
        if let Call::Open { path, flags, .. } = &self.call {
            if flags & libc::O_CREAT == 0 && path.starts_with('/') && !path.starts_with("/proc/") {
                use std::os::unix::ffi::OsStrExt;
                let on_disk = name_to_bytes(path);
                if let Err(e) = std::fs::metadata(std::ffi::OsStr::from_bytes(&on_disk)) {
                    if let Some(errno @ (libc::ENOENT | libc::ENOTDIR)) = e.raw_os_error() {
                        return errno;
                    }
                }
            }
        }
        self.denied_errno()
    }
}

/// A name from the kernel (a path, an argument, a symlink's target) as it is
/// recorded and decided: the bytes themselves when they are UTF-8, as nearly
/// every name is; otherwise each byte that is not part of a UTF-8 character
/// written `%XX` (two upper-case hex digits), and each `%` of that name
/// written `%25`, so the recorded name is the file's own and
/// [`name_to_bytes`] gives its bytes back. `caf\xe9.txt` (Latin-1) is
/// recorded `caf%E9.txt`; a policy names it the same way (`%` is not a glob
/// character). Lossy `U+FFFD` would make two files one name and leave a
/// policy no way to name either.
pub fn name_from_bytes(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    use std::fmt::Write;
    if let Ok(s) = std::str::from_utf8(bytes) {
        return s.into();
    }
    let mut out = String::with_capacity(bytes.len() + 8);
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '%' => out.push_str("%25"),
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out.into()
}

/// The bytes of a recorded name, for opening the file it names: the
/// inverse of [`name_from_bytes`]. `%XX` escapes are decoded only when the
/// result is not UTF-8, which is true of every name [`name_from_bytes`]
/// escaped; a UTF-8 name that merely contains `%` (`caf%C3%A9.html`, as
/// wget saves it) is its own bytes. The one ambiguity: a UTF-8 name whose
/// escapes decode to something that is not UTF-8 (`a%E9`) is read as the
/// escaped one.
pub fn name_to_bytes(name: &str) -> std::borrow::Cow<'_, [u8]> {
    let b = name.as_bytes();
    if !b.contains(&b'%') {
        return b.into();
    }
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    if std::str::from_utf8(&out).is_ok() {
        b.into()
    } else {
        out.into()
    }
}

/// Quote one word as a POSIX shell word: bare when made only of
/// `[A-Za-z0-9_@%+=:,./-]`, else single-quoted with `'` written `'\''`.
pub fn shell_quote(word: &str) -> String {
    if word.is_empty() {
        return "''".into();
    }
    let bare = word
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_@%+=:,./-".contains(&b));
    if bare {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// argv as one command line: the first word is `argv[0]` when it equals the
/// executable path or its basename, else the executable path.
pub fn command_line(path: &str, argv: &[String]) -> String {
    let base = path.rsplit('/').next().unwrap_or(path);
    let first = match argv.first() {
        Some(a0) if a0 == path || a0 == base => a0.as_str(),
        _ => path,
    };
    let mut out = shell_quote(first);
    for w in argv.iter().skip(1) {
        out.push(' ');
        out.push_str(&shell_quote(w));
    }
    out
}

/// The symbolic name of an errno (`ENOENT`), or `E<number>` when unknown.
pub fn errno_name(e: i32) -> String {
    let name = match e {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::ESRCH => "ESRCH",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::ENXIO => "ENXIO",
        libc::E2BIG => "E2BIG",
        libc::ENOEXEC => "ENOEXEC",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::EXDEV => "EXDEV",
        libc::ENODEV => "ENODEV",
        libc::ENOTDIR => "ENOTDIR",
        libc::EISDIR => "EISDIR",
        libc::EINVAL => "EINVAL",
        libc::ENFILE => "ENFILE",
        libc::EMFILE => "EMFILE",
        libc::ETXTBSY => "ETXTBSY",
        libc::EFBIG => "EFBIG",
        libc::ENOSPC => "ENOSPC",
        libc::EROFS => "EROFS",
        libc::EMLINK => "EMLINK",
        libc::ENAMETOOLONG => "ENAMETOOLONG",
        libc::ENOSYS => "ENOSYS",
        libc::ELOOP => "ELOOP",
        libc::ENOTSOCK => "ENOTSOCK",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        libc::EADDRINUSE => "EADDRINUSE",
        libc::EADDRNOTAVAIL => "EADDRNOTAVAIL",
        libc::ENETDOWN => "ENETDOWN",
        libc::ENETUNREACH => "ENETUNREACH",
        libc::ECONNABORTED => "ECONNABORTED",
        libc::ECONNRESET => "ECONNRESET",
        libc::EISCONN => "EISCONN",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::ECONNREFUSED => "ECONNREFUSED",
        libc::EHOSTUNREACH => "EHOSTUNREACH",
        libc::EALREADY => "EALREADY",
        libc::EINPROGRESS => "EINPROGRESS",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EPROTOTYPE => "EPROTOTYPE",
        libc::ENOTEMPTY => "ENOTEMPTY",
        libc::EOVERFLOW => "EOVERFLOW",
        _ => return format!("E{e}"),
    };
    name.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_are_not_utf8_are_recorded_losslessly() {
        let cases: [&[u8]; 7] = [
            b"/work/plain.txt",
            b"/work/caf\xe9.txt",
            b"/work/\xff\xfe",
            b"/work/100%\xe9",
            b"/work/caf\xc3\xa9 \xff %C3 ok",
            b"/work/cut\xe2\x82",
            b"%",
        ];
        for bytes in cases {
            let name = name_from_bytes(bytes);
            assert_eq!(&*name_to_bytes(&name), bytes, "{name}");
        }
        assert_eq!(name_from_bytes(b"/work/caf\xe9.txt"), "/work/caf%E9.txt");
        assert_eq!(name_from_bytes(b"/w/100%\xff"), "/w/100%25%FF");
        // UTF-8 names are their own record, percent signs and all.
        assert_eq!(name_from_bytes("/w/café%E9".as_bytes()), "/w/café%E9");
        assert_eq!(&*name_to_bytes("/w/caf%C3%A9.html"), b"/w/caf%C3%A9.html");
        assert_eq!(&*name_to_bytes("/w/50%"), b"/w/50%");
    }

    #[test]
    fn quoting_follows_rampart_preload() {
        assert_eq!(shell_quote("ls"), "ls");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("--x=y,z:1@h%+/."), "--x=y,z:1@h%+/.");
        assert_eq!(shell_quote("$HOME"), "'$HOME'");
    }

    #[test]
    fn first_word_is_argv0_only_when_it_names_the_executable() {
        let argv = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            command_line("/usr/bin/git", &argv(&["git", "status"])),
            "git status"
        );
        assert_eq!(
            command_line("/usr/bin/git", &argv(&["/usr/bin/git", "log"])),
            "/usr/bin/git log"
        );
        assert_eq!(
            command_line("/usr/bin/python3.11", &argv(&["python3", "-c", "print(1)"])),
            "/usr/bin/python3.11 -c 'print(1)'"
        );
        assert_eq!(command_line("/bin/true", &[]), "/bin/true");
    }

    fn mutation(op: Op, path: &str, second: Option<&str>) -> Event {
        Event {
            pid: 1,
            ppid: 0,
            exe: "/bin/x".into(),
            cwd: "/w".into(),
            source: Source::Trace,
            call: Call::Mutate {
                op,
                path: path.into(),
                new_path: second.filter(|_| op.has_new_path()).map(Into::into),
                target: second.filter(|_| op.has_target()).map(Into::into),
                resolved: None,
                new_resolved: None,
            },
            outcome: Outcome::Errno(libc::ENOENT),
            truncated: false,
        }
    }

    #[test]
    fn a_mutation_is_a_write_with_its_op_and_paths() {
        let ev = mutation(Op::Rename, "/w/a", Some("/w/b"));
        assert_eq!(ev.tool(), "write");
        assert_eq!(ev.path(), Some("/w/a"));
        let r = ev.request();
        assert_eq!(r["op"], "rename");
        assert_eq!(r["path"], "/w/a");
        assert_eq!(r["new_path"], "/w/b");
        assert_eq!(r["outcome"], "ENOENT");
        assert!(r.get("target").is_none() && r.get("flags").is_none());

        let r = mutation(Op::Symlink, "/w/link", Some("../etc/passwd")).request();
        assert_eq!(
            (&r["op"], &r["path"], &r["target"]),
            (
                &"symlink".into(),
                &"/w/link".into(),
                &"../etc/passwd".into()
            )
        );
        assert!(r.get("new_path").is_none());
        let r = mutation(Op::Delete, "/w/gone", None).request();
        assert!(r.get("new_path").is_none() && r.get("target").is_none());
        for op in Op::ALL {
            assert_eq!(Op::from_u8(op as u8), Some(op));
            assert!(!(op.has_new_path() && op.has_target()));
        }
    }

    #[test]
    fn a_mutation_is_decided_on_every_path_it_touches() {
        fn checks(ev: &Event) -> Option<Vec<(&'static str, &str)>> {
            ev.path_checks().map(|c| c.collect())
        }
        assert_eq!(
            checks(&mutation(Op::Rename, "/a", Some("/b"))),
            Some(vec![("write", "/a"), ("write", "/b"), ("read", "/a")])
        );
        assert_eq!(
            checks(&mutation(Op::Link, "/secret", Some("/tmp/hl"))),
            Some(vec![
                ("write", "/secret"),
                ("write", "/tmp/hl"),
                ("read", "/secret")
            ])
        );
        assert_eq!(
            checks(&mutation(Op::Symlink, "/w/l", Some("/etc/shadow"))),
            Some(vec![("write", "/w/l")]),
            "a symlink's target is not decided"
        );
        assert_eq!(
            checks(&mutation(Op::Chmod, "/w/f", None)),
            Some(vec![("write", "/w/f")])
        );
        let open = |resolved: Option<&str>| Event {
            call: Call::Open {
                path: "/w/f".into(),
                flags: libc::O_WRONLY,
                resolved: resolved.map(String::from),
            },
            ..mutation(Op::Delete, "/", None)
        };
        assert_eq!(checks(&open(None)), Some(vec![("write", "/w/f")]));
        assert_eq!(
            checks(&open(Some("/home/u/.bashrc"))),
            Some(vec![("write", "/w/f"), ("write", "/home/u/.bashrc")]),
            "an open is decided on the file it reached too"
        );
    }

    #[test]
    fn refused_mutations_fail_as_their_man_pages_say() {
        assert_eq!(mutation(Op::Chmod, "/f", None).denied_errno(), libc::EPERM);
        assert_eq!(mutation(Op::Chown, "/f", None).denied_errno(), libc::EPERM);
        for op in [
            Op::Delete,
            Op::Rename,
            Op::Link,
            Op::Symlink,
            Op::Mkdir,
            Op::Truncate,
            Op::Utime,
            Op::Mknod,
            Op::Xattr,
        ] {
            assert_eq!(
                mutation(op, "/f", Some("/g")).denied_errno(),
                libc::EACCES,
                "{op:?}"
            );
        }
    }

    #[test]
    fn tool_follows_open_flags() {
        let ev = |flags| Event {
            pid: 1,
            ppid: 0,
            exe: "/bin/x".into(),
            cwd: "/".into(),
            source: Source::Preload,
            call: Call::Open {
                path: "/tmp/f".into(),
                flags,
                resolved: None,
            },
            outcome: Outcome::Ok,
            truncated: false,
        };
        assert_eq!(ev(libc::O_RDONLY | libc::O_CLOEXEC).tool(), "read");
        assert_eq!(ev(libc::O_WRONLY).tool(), "write");
        assert_eq!(ev(libc::O_RDONLY | libc::O_CREAT).tool(), "write");
        assert_eq!(ev(libc::O_RDWR).tool(), "write");
        assert_eq!(ev(libc::O_APPEND).tool(), "write");
    }
}
