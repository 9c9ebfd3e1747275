//! A command's parts, for the exec generaliser ([`super::exec`]): the
//! *head* a rule keeps (the program, its subcommand, a script or module it
//! runs, by the tables of well-known programs below) and the *tail* of
//! flags and operands, each operand with its class (a word that may be
//! structure, a URL's origin, a path, a volatile name, free text).
//!
//! Owns the tables of programs and the classes. It looks at one command at
//! a time: it never compares observations (that is [`super::exec`]) and
//! never evaluates a policy.

use super::paths;
use super::shell_words::{Word, EXPANSION, REDIRECTION};

/// Programs whose commands are never widened: they change privileges or
/// write raw devices, so the command itself is the harm.
const NEVER_WIDEN: &[&str] = &[
    "sudo",
    "doas",
    "su",
    "pkexec",
    "runuser",
    "chroot",
    "unshare",
    "nsenter",
    "setpriv",
    "capsh",
    "dd",
    "mkfs",
    "mke2fs",
    "mkswap",
    "fdisk",
    "sfdisk",
    "gdisk",
    "parted",
    "wipefs",
    "shred",
    "mount",
    "umount",
    "losetup",
    "cryptsetup",
    "swapon",
    "swapoff",
    "insmod",
    "rmmod",
    "modprobe",
    "sysctl",
    "iptables",
    "ip6tables",
    "nft",
    "useradd",
    "userdel",
    "usermod",
    "passwd",
    "chpasswd",
    "visudo",
    "crontab",
    "reboot",
    "shutdown",
    "halt",
    "poweroff",
];

/// Programs whose path operands keep their place (volatile parts freed).
pub(super) const KEEP_PATHS: &[&str] = &[
    "rm", "rmdir", "unlink", "chmod", "chown", "chgrp", "chattr", "truncate", "setfacl", "ln",
];

/// Shells and interpreters: `-c`/`-e` takes inline code, and the first
/// operand is a script.
pub(super) const SHELLS: &[&str] = &[
    "sh", "bash", "dash", "zsh", "ksh", "mksh", "fish", "csh", "tcsh", "busybox",
];
const INTERPRETERS: &[&str] = &[
    "python", "pypy", "node", "nodejs", "perl", "ruby", "php", "lua", "luajit", "Rscript", "tclsh",
];

/// Tools whose first operand is a subcommand even when observed once.
const SUBCOMMAND_TOOLS: &[&str] = &[
    "git",
    "cargo",
    "npm",
    "pnpm",
    "yarn",
    "bun",
    "go",
    "docker",
    "podman",
    "kubectl",
    "helm",
    "pip",
    "pip3",
    "uv",
    "poetry",
    "rustup",
    "gh",
    "apt",
    "apt-get",
    "brew",
    "systemctl",
    "conda",
    "dotnet",
    "terraform",
    "bundle",
    "gem",
    "mvn",
    "gradle",
    "composer",
    "dnf",
    "yum",
    "snap",
    "flatpak",
    "az",
    "aws",
    "gcloud",
    "nix",
    "bazel",
    "meson",
    "mix",
    "stack",
    "cabal",
    "dune",
    "zig",
    "swift",
    "deno",
    "tox",
    "nox",
    "hatch",
    "pdm",
    "pipx",
    "jj",
    "hg",
    "svn",
];

/// (tool, subcommand) pairs whose next word is part of the subcommand.
const THIRD_LEVEL: &[(&str, &str)] = &[
    ("git", "stash"),
    ("git", "remote"),
    ("git", "submodule"),
    ("git", "worktree"),
    ("git", "notes"),
    ("git", "lfs"),
    ("git", "bisect"),
    ("npm", "run"),
    ("npm", "run-script"),
    ("pnpm", "run"),
    ("yarn", "run"),
    ("bun", "run"),
    ("docker", "compose"),
    ("docker", "container"),
    ("docker", "image"),
    ("go", "mod"),
    ("uv", "pip"),
];

/// Programs that run the project's build file: any target.
const BUILD_RUNNERS: &[&str] = &["make", "gmake", "just", "rake", "ninja"];

/// (tool, subcommand) pairs that run one of the project's own scripts.
const SCRIPT_RUNNERS: &[(&str, &str)] = &[
    ("npm", "run"),
    ("npm", "run-script"),
    ("pnpm", "run"),
    ("yarn", "run"),
    ("bun", "run"),
];

fn basename(s: &str) -> &str {
    s.rsplit('/').next().unwrap_or(s)
}

/// The executable's family name: `python3.12` → `python`, `mkfs.ext4` →
/// `mkfs`.
pub(super) fn family(exe: &str) -> &str {
    let b = basename(exe);
    for fam in [
        "python", "pypy", "mkfs", "node", "perl", "ruby", "php", "lua",
    ] {
        if let Some(rest) = b.strip_prefix(fam) {
            if rest.is_empty()
                || rest.starts_with(|c: char| c.is_ascii_digit() || c == '.' || c == '-')
            {
                return fam;
            }
        }
    }
    b
}

pub(super) fn is_flag(w: &str) -> bool {
    w.len() > 1 && w.starts_with('-') && !w[1..].bytes().all(|b| b.is_ascii_digit())
}

/// A word that can name a subcommand: lower-case letters, digits and `-`.
fn bare_word(w: &str) -> bool {
    w.len() <= 32
        && w.starts_with(|c: char| c.is_ascii_lowercase())
        && w.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// What an operand is.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Class {
    /// Structure: kept when every observation agrees.
    Word(String),
    /// `scheme://host[:port]` kept, the rest free.
    Url {
        origin: (String, String, String),
        rest: bool,
    },
    /// Data: free in the rule; the name says what was freed.
    Data(&'static str),
    /// A path in a system directory (`/dev/null`): kept when every
    /// observation names the same one, else data.
    System(String),
    /// A path of a program whose path operands keep their place: the path
    /// with its volatile parts freed.
    Place(String),
}

/// A tail token: a flag (literal) or an operand.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Tok {
    Flag(String),
    /// `--name=` with a value of this class.
    FlagValue(String, Class),
    Operand(Class),
}

fn classify(value: &str, keep_paths: bool) -> Class {
    if value == EXPANSION {
        return Class::Data("a shell expansion");
    }
    if let Some(u) = url_origin(value) {
        return u;
    }
    let pathish = value.contains('/')
        || value.starts_with('.') && value.len() > 1 && !value.starts_with(".[")
        || has_extension(value);
    if pathish && keep_paths {
        let normal = paths::normalise_word(value);
        return Class::Place(normal);
    }
    if value.contains(char::is_whitespace) {
        return Class::Data("free text");
    }
    if pathish {
        let system = [
            "/dev/",
            "/usr/",
            "/etc/",
            "/bin/",
            "/sbin/",
            "/lib/",
            "/proc/self/",
        ];
        if system.iter().any(|d| value.starts_with(d)) && paths::normalise_word(value) == value {
            return Class::System(value.to_string());
        }
        return Class::Data("path");
    }
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return if value.len() >= 3 {
            Class::Data("number")
        } else {
            Class::Word(value.to_string())
        };
    }
    if paths::normalise_word(value) != value {
        return Class::Data("volatile name");
    }
    let plain = value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_-.:,@+=%".contains(&b));
    if !plain || value.len() > 40 {
        return Class::Data("free text");
    }
    Class::Word(value.to_string())
}

/// `name.ext` with a short alphanumeric extension.
fn has_extension(v: &str) -> bool {
    match v.rsplit_once('.') {
        Some((stem, ext)) => {
            !stem.is_empty()
                && (1..=5).contains(&ext.len())
                && ext.bytes().all(|b| b.is_ascii_alphanumeric())
                && ext.bytes().any(|b| b.is_ascii_alphabetic())
                && !stem.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

fn url_origin(v: &str) -> Option<Class> {
    let (scheme, rest) = v.split_once("://")?;
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+')
    {
        return None;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    if authority.is_empty() || authority.contains('@') {
        return Some(Class::Data("URL"));
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
            if p.bytes().all(|b| b.is_ascii_digit()) {
                (h, p)
            } else {
                (authority, "")
            }
        }
        _ => (authority, ""),
    };
    Some(Class::Url {
        origin: (scheme.to_string(), host.to_string(), port.to_string()),
        rest: end < rest.len(),
    })
}

/// How a program's commands are split: how many words the head takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Head {
    /// Keep the command exact.
    Exact,
    /// The head is this many words.
    Words(usize),
    /// The head is this many words and runs the project's own code: any
    /// tail.
    Project(usize),
}

pub(super) fn head_of(words: &[Word]) -> Head {
    let exe = family(&words[0].value);
    if NEVER_WIDEN.contains(&exe) {
        return Head::Exact;
    }
    let program = words[0].value.as_str();
    if program.contains('/') && !program.starts_with('/') {
        return Head::Project(1);
    }
    if BUILD_RUNNERS.contains(&exe) {
        return Head::Project(1);
    }
    let args = &words[1..];
    if SHELLS.contains(&exe) || INTERPRETERS.contains(&exe) {
        // Options up to inline code (`-c`, `-e`: the rest is data), a
        // module (`-m name`) or a script (the first operand).
        for (i, w) in args.iter().enumerate() {
            let v = w.value.as_str();
            let inline_flag = matches!(v, "-c" | "-e" | "-E" | "--eval" | "-p" | "--print" | "-")
                || (SHELLS.contains(&exe)
                    && is_flag(v)
                    && !v.starts_with("--")
                    && v.ends_with('c'));
            if inline_flag {
                return Head::Words(i + 2);
            }
            if v == "-m" {
                return Head::Words((i + 3).min(words.len()));
            }
            if !is_flag(v) {
                // A script of the project's (a relative path): any
                // arguments.
                return if v.starts_with('/') {
                    Head::Words(i + 2)
                } else {
                    Head::Project(i + 2)
                };
            }
        }
        return Head::Words(1);
    }
    if !SUBCOMMAND_TOOLS.contains(&exe) {
        return Head::Words(1);
    }
    let Some(i) = args.iter().position(|w| !is_flag(&w.value)) else {
        return Head::Words(1);
    };
    let sub_at = i + 1;
    if !bare_word(&words[sub_at].value) {
        return Head::Words(sub_at);
    }
    if SCRIPT_RUNNERS
        .iter()
        .any(|&(t, s)| t == exe && s == words[sub_at].value)
    {
        return Head::Project(sub_at + 1);
    }
    let third = THIRD_LEVEL
        .iter()
        .any(|&(t, s)| t == exe && s == words[sub_at].value);
    if third && sub_at + 1 < words.len() && bare_word(&words[sub_at + 1].value) {
        return Head::Words(sub_at + 2);
    }
    Head::Words(sub_at + 1)
}

pub(super) fn tail_tokens(words: &[Word], keep_paths: bool) -> Vec<Tok> {
    // A redirection and what follows it end the tail as data.
    let end = words
        .iter()
        .position(|w| w.value == REDIRECTION)
        .unwrap_or(words.len());
    let mut tail: Vec<Tok> = words[..end]
        .iter()
        .map(|w| {
            let v = w.value.as_str();
            if is_flag(v) {
                if let Some((name, value)) = v.split_once('=') {
                    if v.starts_with("--") {
                        return Tok::FlagValue(format!("{name}="), classify(value, keep_paths));
                    }
                }
                // Short flags glued to a value (`-j8`, `-ofile`, `-I/x`)
                // and long flags are structure unless they hold data.
                return match classify(v, false) {
                    Class::Word(_) => Tok::Flag(w.raw.clone()),
                    c => Tok::FlagValue(v[..2].to_string(), demote(c)),
                };
            }
            Tok::Operand(classify(v, keep_paths))
        })
        .collect();
    if end < words.len() {
        tail.push(Tok::Operand(Class::Data("a redirection")));
    }
    tail
}

/// A flag's glued value is data whatever it looks like.
fn demote(c: Class) -> Class {
    match c {
        Class::Word(_) => Class::Data("value"),
        c => c,
    }
}
