//! Exec rules: which commands a rule admits.
//!
//! A rule keeps the executable and its subcommand (`git status`, `cargo
//! build`, `npm run test`, `python3 -m pytest`, `python3 tool.py`) and
//! widens the arguments after them to `*` only where the observed values
//! vary (at least `threshold` distinct continuations, or a volatile value
//! such as a temp name or a pid). Commands that run other code, gain
//! privileges, destroy data or move data off the machine (shells and
//! interpreters with inline code, `sudo`, `env`, `xargs`, `rm`, `chmod`,
//! `dd`, `kill`, `mkfs`, `curl`, `ssh`, `nc`, installers, ...) and compound
//! shell strings are kept exact, never widened.

use std::collections::BTreeMap;

use super::model::Stat;
use super::paths;

/// Executables whose commands are never widened.
const NEVER_WIDEN: &[&str] = &[
    "sudo",
    "doas",
    "su",
    "pkexec",
    "runuser",
    "env",
    "xargs",
    "nohup",
    "nice",
    "ionice",
    "timeout",
    "stdbuf",
    "setsid",
    "chroot",
    "unshare",
    "nsenter",
    "flock",
    "time",
    "watch",
    "strace",
    "ltrace",
    "gdb",
    "exec",
    "command",
    "builtin",
    "eval",
    "parallel",
    "script",
    "expect",
    "firejail",
    "bwrap",
    "systemd-run",
    "at",
    "batch",
    "crontab",
    "rm",
    "rmdir",
    "shred",
    "unlink",
    "truncate",
    "chmod",
    "chown",
    "chgrp",
    "chattr",
    "setfacl",
    "dd",
    "kill",
    "pkill",
    "killall",
    "skill",
    "mkfs",
    "mke2fs",
    "mkswap",
    "fdisk",
    "sfdisk",
    "gdisk",
    "parted",
    "wipefs",
    "wipe",
    "mount",
    "umount",
    "losetup",
    "cryptsetup",
    "swapon",
    "swapoff",
    "reboot",
    "shutdown",
    "halt",
    "poweroff",
    "init",
    "telinit",
    "iptables",
    "ip6tables",
    "nft",
    "ufw",
    "useradd",
    "userdel",
    "usermod",
    "groupadd",
    "passwd",
    "chpasswd",
    "visudo",
    "insmod",
    "rmmod",
    "modprobe",
    "sysctl",
    "curl",
    "wget",
    "ssh",
    "scp",
    "sftp",
    "rsync",
    "nc",
    "ncat",
    "netcat",
    "socat",
    "telnet",
    "ftp",
    "tftp",
    "nmap",
    "openssl",
    "aria2c",
    "http",
    "https",
    "xh",
    "npx",
    "awk",
    "gawk",
    "mawk",
    "nawk",
    "sed",
    "gpg",
    "ssh-keygen",
    "ssh-add",
];

/// Shells: inline code with `-c` (also combined: `-lc`, `-ec`).
const SHELLS: &[&str] = &[
    "sh", "bash", "dash", "zsh", "ksh", "mksh", "fish", "csh", "tcsh", "busybox",
];

/// Tools whose first word is a subcommand.
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
    "make",
    "just",
    "bundle",
    "rake",
    "gem",
    "mvn",
    "gradle",
    "gradlew",
    "composer",
    "dnf",
    "yum",
    "pacman",
    "snap",
    "flatpak",
    "az",
    "aws",
    "gcloud",
    "nix",
    "bazel",
    "meson",
    "ninja",
    "mix",
    "stack",
    "cabal",
    "dune",
    "zig",
    "swift",
    "flutter",
    "dart",
    "deno",
    "rails",
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
    ("docker", "network"),
    ("docker", "volume"),
    ("docker", "system"),
    ("docker", "buildx"),
    ("podman", "compose"),
    ("podman", "container"),
    ("podman", "image"),
    ("go", "mod"),
    ("go", "tool"),
    ("kubectl", "config"),
    ("uv", "pip"),
    ("aws", "*"),
    ("gcloud", "*"),
    ("az", "*"),
];

/// (tool, subcommand) pairs that install or run arbitrary code: never widened.
const NEVER_WIDEN_SUB: &[(&str, &str)] = &[
    ("pip", "install"),
    ("pip3", "install"),
    ("uv", "pip"),
    ("uv", "run"),
    ("uv", "tool"),
    ("pipx", "run"),
    ("pipx", "install"),
    ("npm", "install"),
    ("npm", "i"),
    ("npm", "add"),
    ("npm", "exec"),
    ("npm", "x"),
    ("pnpm", "add"),
    ("pnpm", "install"),
    ("pnpm", "dlx"),
    ("pnpm", "exec"),
    ("yarn", "add"),
    ("yarn", "dlx"),
    ("bun", "add"),
    ("bun", "x"),
    ("bun", "install"),
    ("cargo", "install"),
    ("go", "install"),
    ("go", "run"),
    ("go", "get"),
    ("gem", "install"),
    ("apt", "install"),
    ("apt", "remove"),
    ("apt", "purge"),
    ("apt-get", "install"),
    ("apt-get", "remove"),
    ("apt-get", "purge"),
    ("brew", "install"),
    ("dnf", "install"),
    ("yum", "install"),
    ("pacman", "-S"),
    ("docker", "run"),
    ("docker", "exec"),
    ("podman", "run"),
    ("podman", "exec"),
    ("kubectl", "exec"),
    ("kubectl", "apply"),
    ("kubectl", "delete"),
    ("systemctl", "stop"),
    ("systemctl", "disable"),
    ("systemctl", "mask"),
    ("git", "config"),
];

/// One word of a command: its text as written and its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Word {
    pub raw: String,
    pub value: String,
}

/// Splits a command into words when it is a plain list of words joined by
/// single spaces: no operators, redirections, substitutions or expansions
/// outside quotes, no backslashes. `None` for anything else.
pub fn simple_words(command: &str) -> Option<Vec<Word>> {
    if command.is_empty()
        || command.contains(|c: char| ";&|<>()$`\\\n\r\t{}".contains(c) || c.is_control())
        || command.starts_with(' ')
        || command.ends_with(' ')
        || command.contains("  ")
    {
        return None;
    }
    let mut words = Vec::new();
    let mut raw = String::new();
    let mut value = String::new();
    let mut quote: Option<char> = None;
    for c in command.chars() {
        match (quote, c) {
            (None, ' ') => {
                words.push(Word {
                    raw: std::mem::take(&mut raw),
                    value: std::mem::take(&mut value),
                });
                continue;
            }
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '*' | '?' | '[' | ']' | '~' | '#' | '!') => return None,
            (_, c) => value.push(c),
        }
        raw.push(c);
    }
    if quote.is_some() {
        return None;
    }
    words.push(Word { raw, value });
    if words[0].value.contains('=') {
        return None;
    }
    Some(words)
}

fn basename(s: &str) -> &str {
    s.rsplit('/').next().unwrap_or(s)
}

/// The executable's family name: `python3.12` → `python`, `mkfs.ext4` →
/// `mkfs`.
fn family(exe: &str) -> &str {
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

/// How a simple command is generalised: the number of leading words that
/// are kept (the head), or `None` when the command stays exact.
fn head_len(words: &[Word]) -> Option<usize> {
    let exe = family(&words[0].value);
    let args = &words[1..];
    if NEVER_WIDEN.contains(&exe) || NEVER_WIDEN.contains(&basename(&words[0].value)) {
        return None;
    }
    let is_opt = |w: &Word| w.value.starts_with('-') && w.value.len() > 1;
    if SHELLS.contains(&exe) {
        if args
            .iter()
            .any(|w| is_opt(w) && !w.value.starts_with("--") && w.value.contains('c'))
        {
            return None;
        }
        return script_head(words);
    }
    match exe {
        "python" | "pypy" => {
            if args.iter().any(|w| {
                w.value == "-c"
                    || w.value == "-"
                    || (is_opt(w) && !w.value.starts_with("--") && w.value.contains('c'))
            }) {
                return None;
            }
            if let Some(i) = args.iter().position(|w| w.value == "-m") {
                return (i + 2 < words.len()).then_some(i + 3);
            }
            return script_head(words);
        }
        "node" | "nodejs" | "deno" | "perl" | "ruby" | "php" | "lua" | "luajit" | "Rscript"
        | "osascript" | "tclsh" => {
            let inline = [
                "-e", "-E", "--eval", "-p", "--print", "-r", "-pe", "-ne", "-le", "-",
            ];
            if args.iter().any(|w| {
                inline.contains(&w.value.as_str())
                    || (exe == "perl" && is_opt(w) && w.value.contains(['e', 'E']))
            }) {
                return None;
            }
            if exe == "deno" {
                return sub_head(words, "deno");
            }
            return script_head(words);
        }
        "find" => {
            let acts = [
                "-exec", "-execdir", "-ok", "-okdir", "-delete", "-fprint", "-fprintf", "-fls",
            ];
            if args.iter().any(|w| acts.contains(&w.value.as_str())) {
                return None;
            }
        }
        _ => {}
    }
    if SUBCOMMAND_TOOLS.contains(&exe) || SUBCOMMAND_TOOLS.contains(&basename(&words[0].value)) {
        return sub_head(words, basename(&words[0].value));
    }
    Some(1)
}

/// `interpreter [options] script`: the head runs up to the script.
fn script_head(words: &[Word]) -> Option<usize> {
    let i = words[1..].iter().position(|w| !w.value.starts_with('-'))?;
    Some(i + 2)
}

fn sub_head(words: &[Word], tool: &str) -> Option<usize> {
    if tool == "git"
        && words
            .iter()
            .any(|w| w.value == "-c" || w.value.starts_with("--config"))
    {
        return None;
    }
    let Some(i) = words[1..].iter().position(|w| !w.value.starts_with('-')) else {
        return Some(words.len());
    };
    let sub_at = i + 1;
    let sub = words[sub_at].value.as_str();
    let tool_key = tool.trim_start_matches("./");
    if NEVER_WIDEN_SUB.contains(&(tool_key, sub)) {
        return None;
    }
    let third = THIRD_LEVEL
        .iter()
        .any(|&(t, s)| t == tool_key && (s == sub || s == "*"));
    if third && sub_at + 1 < words.len() && !words[sub_at + 1].value.starts_with('-') {
        return Some(sub_at + 2);
    }
    Some(sub_at + 1)
}

/// A word whose value is volatile (a temp name, a pid, a hash).
fn volatile(word: &Word) -> bool {
    let v = &word.value;
    if v.len() >= 3 && v.bytes().all(|b| b.is_ascii_digit()) {
        return true;
    }
    paths::normalise_word(v) != *v
}

/// Whether some word of the command (split on spaces and quotes) is
/// volatile.
fn names_volatile(command: &str) -> bool {
    command
        .split([' ', '\'', '"', '='])
        .filter(|w| !w.is_empty())
        .any(|w| {
            volatile(&Word {
                raw: w.to_string(),
                value: w.to_string(),
            })
        })
}

/// The pattern that admits exactly `command` under Rampart's command-glob
/// semantics: glob characters become `?` (which matches them, and only one
/// character).
pub fn exact_pattern(command: &str) -> String {
    command
        .chars()
        .map(|c| if matches!(c, '*' | '?' | '[') { '?' } else { c })
        .collect()
}

/// One exec rule before rendering.
#[derive(Clone, Debug, PartialEq)]
pub struct ExecRule {
    pub pattern: String,
    pub stat: Stat,
    /// Why the command was kept exact, when it could have been widened.
    pub exact_because: Option<&'static str>,
    /// An exact rule whose command names something that differs from run to
    /// run (a temp path, a pid): the next run will not match it.
    pub volatile: bool,
    pub absorbed: Vec<String>,
}

#[derive(Default)]
struct Node {
    end: Option<(String, Stat)>,
    star: Option<(String, Stat)>,
    children: BTreeMap<String, (Word, Node)>,
}

/// Builds exec rules from distinct commands (or, when merging, earlier
/// patterns: a trailing ` *` marks an already widened prefix).
pub fn generalise(entries: &BTreeMap<String, Stat>, threshold: usize) -> Vec<ExecRule> {
    let mut rules = Vec::new();
    let mut groups: BTreeMap<Vec<String>, Node> = BTreeMap::new();
    for (command, stat) in entries {
        let (text, star) = match command.strip_suffix(" *") {
            Some(prefix) => (prefix, true),
            None => (command.as_str(), false),
        };
        let words = simple_words(text);
        let head = words.as_ref().and_then(|w| head_len(w));
        let (Some(words), Some(head)) = (words, head) else {
            let exact_because = if simple_words(text).is_none() {
                "compound or quoted shell syntax"
            } else {
                "runs code, changes privileges, destroys data or reaches the network"
            };
            rules.push(ExecRule {
                pattern: if star {
                    command.clone()
                } else {
                    exact_pattern(command)
                },
                stat: stat.clone(),
                exact_because: Some(exact_because),
                volatile: names_volatile(text),
                absorbed: vec![command.clone()],
            });
            continue;
        };
        let head = head.min(words.len());
        let key: Vec<String> = words[..head].iter().map(|w| w.raw.clone()).collect();
        let mut node = groups.entry(key).or_default();
        for w in &words[head..] {
            node = &mut node
                .children
                .entry(w.raw.clone())
                .or_insert_with(|| (w.clone(), Node::default()))
                .1;
        }
        let slot = if star { &mut node.star } else { &mut node.end };
        match slot {
            Some((_, s)) => s.absorb(stat),
            None => *slot = Some((command.clone(), stat.clone())),
        }
    }
    for (head, node) in &groups {
        emit(node, &head.join(" "), threshold.max(2), &mut rules);
    }
    rules.sort_by(|a, b| a.pattern.cmp(&b.pattern));
    rules
}

fn emit(node: &Node, prefix: &str, threshold: usize, out: &mut Vec<ExecRule>) {
    if let Some((cmd, stat)) = &node.end {
        out.push(ExecRule {
            pattern: exact_pattern(cmd),
            stat: stat.clone(),
            exact_because: None,
            volatile: names_volatile(cmd),
            absorbed: vec![cmd.clone()],
        });
    }
    let can_widen = !prefix.contains(['*', '?', '[', ']', '\\', '{', '}']);
    let varies = node.children.len() + usize::from(node.end.is_some()) >= threshold
        || node.children.values().any(|(w, _)| volatile(w));
    if node.star.is_some() || (can_widen && !node.children.is_empty() && varies) {
        let mut stat = Stat::default();
        let mut absorbed = Vec::new();
        if let Some((p, s)) = &node.star {
            stat.absorb(s);
            absorbed.push(p.clone());
        }
        for (_, child) in node.children.values() {
            collect(child, &mut stat, &mut absorbed);
        }
        out.push(ExecRule {
            pattern: format!("{prefix} *"),
            stat,
            exact_because: None,
            volatile: false,
            absorbed,
        });
        return;
    }
    for (raw, (_, child)) in &node.children {
        emit(child, &format!("{prefix} {raw}"), threshold, out);
    }
}

fn collect(node: &Node, stat: &mut Stat, absorbed: &mut Vec<String>) {
    for (p, s) in node.end.iter().chain(node.star.iter()) {
        stat.absorb(s);
        absorbed.push(p.clone());
    }
    for (_, child) in node.children.values() {
        collect(child, stat, absorbed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gen(cmds: &[&str], t: usize) -> Vec<String> {
        let mut m = BTreeMap::new();
        for c in cmds {
            m.entry(c.to_string())
                .or_insert_with(Stat::default)
                .add(c, 1);
        }
        generalise(&m, t).into_iter().map(|r| r.pattern).collect()
    }

    #[test]
    fn keeps_subcommands_and_widens_varying_arguments() {
        assert_eq!(
            gen(
                &[
                    "git status",
                    "git log -3",
                    "git log --oneline",
                    "git log -n 5",
                    "git diff"
                ],
                3
            ),
            ["git diff", "git log *", "git status"]
        );
        assert_eq!(
            gen(&["npm run test", "npm run build"], 3),
            ["npm run build", "npm run test"]
        );
        assert_eq!(gen(&["cat a", "cat b", "cat c"], 3), ["cat *"]);
        assert_eq!(gen(&["cat a", "cat b"], 3), ["cat a", "cat b"]);
    }

    #[test]
    fn dangerous_commands_stay_exact() {
        assert_eq!(gen(&["rm a", "rm b", "rm c"], 3), ["rm a", "rm b", "rm c"]);
        assert_eq!(
            gen(
                &["bash -c 'echo 1'", "bash -c 'echo 2'", "bash -c 'echo 3'"],
                3
            ),
            ["bash -c 'echo 1'", "bash -c 'echo 2'", "bash -c 'echo 3'"]
        );
        assert_eq!(
            gen(
                &[
                    "python3 -c 'print(1)'",
                    "python3 -c 'print(2)'",
                    "python3 -c 'x'"
                ],
                3
            )
            .len(),
            3
        );
        assert_eq!(gen(&["ls | wc", "ls | wc -l", "ls | wc -c"], 3).len(), 3);
    }

    #[test]
    fn volatile_arguments_widen_at_once() {
        assert_eq!(gen(&["cat /tmp/tmpab3xk9q_/out"], 3), ["cat *"]);
        assert_eq!(
            gen(&["python3 tool.py --pid 48213"], 3),
            ["python3 tool.py --pid *"]
        );
    }

    #[test]
    fn glob_characters_in_exact_commands_match_only_themselves() {
        assert_eq!(exact_pattern("find . -name '*.rs'"), "find . -name '?.rs'");
    }
}
