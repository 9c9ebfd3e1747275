//! Exec rules: the shape of each command kept, its data set free.
//!
//! A command is read as words (the recorder writes argv as POSIX shell
//! words, [`crate::event::shell_quote`]) and split into a *head* that a rule
//! keeps — the program, its subcommand (`git commit`, `npm run test`,
//! `python3 -m pytest`, `node tools/lint.js`) — and a *tail* of flags and
//! operands. Each operand gets a class: a URL keeps its scheme, host and
//! port and frees its path; a path, free text (a commit message, a `sed`
//! expression, inline code), a number or a volatile name (temp file, date,
//! hash) is data; any other word may be structure. The observed tails of
//! one head are then anti-unified: positions where several observations
//! agree on a word stay literal; positions that hold data, differ, or were
//! seen in one observation only (which cannot tell structure from data)
//! become `*`. Flags are structure.
//! A head whose tails take three or more different shapes keeps only its
//! head (`git diff *`).
//!
//! Subcommands are those of well-known tools (`git`, `cargo`, `npm`, ...);
//! for any other program the first operand is anti-unified like the rest.
//! The project's own code takes any arguments: a script named by a
//! relative path (`node tools/lint.js *`), a program run by relative path
//! (`./configure *`), a build file's targets (`make *`) and package
//! scripts (`npm run *`) run what the project says, and the project is the
//! agent's to change anyway; so are the names of its code: two scripts or
//! programs of one directory run alike admit any there (`python3 *`,
//! `./build/*`, `/usr/bin/node $PROJECT/test/*`). Helpers that tools run by absolute path from a
//! library directory (`cc1`, `collect2`, `git-remote-http`) are learned as
//! "this program may run" (`/usr/lib/gcc/x86_64-linux-gnu/12/cc1 *`).
//!
//! Never generalised: programs that change privileges or write raw disks
//! (`sudo`, `dd`, `mkfs`, ...) and shell syntax the recorder did not write
//! (pipes, redirections, substitutions: a hook's raw shell string). The
//! path operands of programs that destroy or re-permission files (`rm`,
//! `chmod`, `truncate`, ...) keep their place; only their volatile parts
//! are freed (`rm -f /tmp/tmp.*`). The harm an exec rule lets through is
//! still decided at its own call: the read, the write, the connect.
//!
//! The words of a command are read in `shell_words.rs` and its head
//! and operand classes found in `command_parts.rs`; this file
//! compares the observations of one head and writes the rules. It never
//! reads files and never evaluates a policy.

use std::collections::{BTreeMap, BTreeSet};

use super::command_parts::{
    family, head_of, is_flag, tail_tokens, Class, Head, Tok, KEEP_PATHS, SHELLS,
};
use super::model::Stat;
use super::paths;
pub use super::shell_words::{script_words, simple_words, Word};

/// What a rule's `*` stands for when it runs the project's own code.
pub const PROJECT_CODE: &str = "the arguments of the project's own code";

/// Library directories tools run their helpers from.
const HELPER_DIRS: &[&str] = &[
    "/usr/lib/",
    "/usr/lib64/",
    "/usr/libexec/",
    "/usr/local/lib/",
    "/usr/local/libexec/",
    "/lib/",
    "/lib64/",
    "/opt/",
];

/// Distinct tail shapes of one head before the rule keeps only the head:
/// two different uses of one subcommand say its flags vary.
const SHAPES_BEFORE_WIDENING: usize = 2;

/// Interpreters whose `-m` names a module to run.
const INTERPRETERS_M: &[&str] = &["python", "pypy"];

/// What a rule's `*` stands for when it names any of the project's own
/// programs or scripts in one directory.
pub const PROJECT_NAMES: &str = "the names of the project's own code in one directory";

/// Distinct names of the project's code run from one directory (by one
/// program) before the rule admits any name there: the names are the
/// project's, which the agent writes, and the next session's differ.
const NAMES_BEFORE_WIDENING: usize = 2;

/// The shell utilities baseline: programs whose effects are file reads,
/// writes and mutations, and the programs they start, each decided at its
/// own call (`find -delete` at the unlink, `xargs rm` at the exec of `rm`). A policy that learned several of them admits them all
/// (`cat *`), as a file baseline admits a library directory.
pub const UTILITIES: &[&str] = &[
    "awk", "basename", "cat", "comm", "cp", "cut", "diff", "dirname", "echo", "false", "file",
    "find", "grep", "head", "ls", "mkdir", "mktemp", "paste", "printf", "pwd", "readlink",
    "realpath", "sed", "seq", "sleep", "sort", "stat", "tail", "tee", "test", "touch", "tr",
    "true", "uniq", "wc", "which", "xargs",
];

/// The utilities that are run without arguments too (`sort`, `wc`, `true`):
/// the baseline admits them bare as well.
pub const UTILITIES_BARE: &[&str] = &[
    "cat", "echo", "false", "head", "ls", "mktemp", "printf", "pwd", "sort", "tail", "tee", "tr",
    "true", "uniq", "wc",
];

/// Read-only git subcommands: a policy that learned two of them admits
/// them all, bare and with any arguments (what they read is decided at
/// each read).
pub const GIT_QUERIES: &[&str] = &[
    "blame",
    "describe",
    "diff",
    "grep",
    "log",
    "ls-files",
    "rev-parse",
    "shortlog",
    "show",
    "status",
];

/// How many distinct utilities a trail must show before the baseline is
/// included.
pub const UTILITIES_NEEDED: usize = 3;

/// One exec rule before rendering.
#[derive(Clone, Debug, PartialEq)]
pub struct ExecRule {
    /// The program the rule is for (its first word), for grouping.
    pub program: String,
    pub pattern: String,
    pub stat: Stat,
    /// Why the command was kept exact, when it could have been widened.
    pub exact_because: Option<&'static str>,
    /// What the rule's wildcards stand for (`free text`, `path`, `URL
    /// path`, ...), for the reviewer.
    pub generalised: BTreeSet<&'static str>,
    /// An exact rule whose command names something that differs from run to
    /// run (a temp path, a pid): the next run will not match it.
    pub volatile: bool,
    pub absorbed: Vec<String>,
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

/// A generalised tail position.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Slot {
    Lit(String),
    /// A URL: origin literal (port `None` when it varies), rest free.
    Url {
        scheme: String,
        host: String,
        port: Option<String>,
        rest: bool,
    },
    Free(&'static str),
}

/// The shape of a tail: flags literal, operand classes without their data.
fn shape(tail: &[Tok]) -> Vec<String> {
    tail.iter()
        .map(|t| match t {
            Tok::Flag(f) => format!("F{f}"),
            Tok::FlagValue(f, c) => format!("V{f}{}", class_shape(c)),
            Tok::Operand(c) => format!("O{}", class_shape(c)),
        })
        .collect()
}

fn class_shape(c: &Class) -> String {
    match c {
        Class::Word(_) => "w".into(),
        Class::Url { origin, .. } => format!("u{}://{}", origin.0, origin.1),
        Class::Data(_) => "d".into(),
        Class::Place(_) | Class::System(_) => "p".into(),
    }
}

/// Anti-unifies tails of one shape position by position.
fn unify(tails: &[&Vec<Tok>]) -> Vec<(Option<String>, Slot)> {
    let n = tails[0].len();
    (0..n)
        .map(|i| {
            let toks: Vec<&Tok> = tails.iter().map(|t| &t[i]).collect();
            let (prefix, classes): (Option<String>, Vec<&Class>) = match toks[0] {
                Tok::Flag(f) => return (None, Slot::Lit(f.clone())),
                Tok::FlagValue(f, _) => (
                    Some(f.clone()),
                    toks.iter()
                        .filter_map(|t| match t {
                            Tok::FlagValue(_, c) => Some(c),
                            _ => None,
                        })
                        .collect(),
                ),
                Tok::Operand(_) => (
                    None,
                    toks.iter()
                        .filter_map(|t| match t {
                            Tok::Operand(c) => Some(c),
                            _ => None,
                        })
                        .collect(),
                ),
            };
            (prefix, unify_class(&classes))
        })
        .collect()
}

fn unify_class(classes: &[&Class]) -> Slot {
    // One observation cannot tell structure from data: its operands are
    // data. Several that agree on a word make it structure.
    let once = classes.len() == 1;
    match classes[0] {
        Class::Word(_) | Class::System(_) if once => Slot::Free("an operand seen once"),
        Class::Word(w) => {
            if classes
                .iter()
                .all(|c| matches!(c, Class::Word(x) if x == w))
            {
                Slot::Lit(w.clone())
            } else {
                Slot::Free("word")
            }
        }
        Class::Place(p) | Class::System(p) => {
            let same = |c: &&Class| matches!(c, Class::Place(x) | Class::System(x) if x == p);
            if classes.iter().all(same) {
                Slot::Lit(p.clone())
            } else {
                Slot::Free("path")
            }
        }
        Class::Data(what) => Slot::Free(what),
        Class::Url { origin, .. } => {
            let ports: BTreeSet<&str> = classes
                .iter()
                .filter_map(|c| match c {
                    Class::Url { origin, .. } => Some(origin.2.as_str()),
                    _ => None,
                })
                .collect();
            let rest = classes
                .iter()
                .all(|c| matches!(c, Class::Url { rest: true, .. }));
            Slot::Url {
                scheme: origin.0.clone(),
                host: origin.1.clone(),
                port: (ports.len() == 1).then(|| origin.2.clone()),
                rest,
            }
        }
    }
}

/// Renders a head and generalised tail as a Rampart command glob: literal
/// words up to the first freed one, then `*` (Go Rampart's "starts with"
/// form); a URL whose port varies needs the `**` form (`*` then stays
/// within a `/`-separated part).
fn render(head: &[Word], slots: &[(Option<String>, Slot)]) -> (String, BTreeSet<&'static str>) {
    let mut out: Vec<String> = head.iter().map(|w| exact_pattern(&w.raw)).collect();
    let mut freed = BTreeSet::new();
    for (prefix, slot) in slots {
        let p = prefix.as_deref().unwrap_or("");
        match slot {
            Slot::Lit(l)
                if l.contains('*') && {
                    let plain = l.replace('*', "x");
                    crate::event::shell_quote(&plain) != plain
                } =>
            {
                freed.insert("path");
                out.push(format!("{}*", exact_pattern(p)));
                return (out.join(" "), freed);
            }
            Slot::Lit(l) if l.contains('*') => {
                // A place with volatile parts freed: kept up to its first
                // `*`, which ends the pattern ("starts with").
                let cut = l.find('*').map_or(l.len(), |i| i + 1);
                let (keep, _) = l.split_at(cut);
                let stem = exact_pattern(&keep[..keep.len() - 1]);
                freed.insert("volatile name");
                out.push(format!("{}{}*", exact_pattern(p), stem));
                return (out.join(" "), freed);
            }
            Slot::Lit(l) => out.push(format!("{}{}", exact_pattern(p), render_lit(l))),
            Slot::Free(what) => {
                freed.insert(*what);
                out.push(format!("{}*", exact_pattern(p)));
                return (out.join(" "), freed);
            }
            Slot::Url {
                scheme,
                host,
                port,
                rest,
            } => {
                let host = exact_pattern(host);
                let sep = if *rest { "/" } else { "" };
                freed.insert("URL path");
                let text = match port {
                    Some(port) if port.is_empty() => format!("{scheme}://{host}{sep}*"),
                    Some(port) => format!("{scheme}://{host}:{port}{sep}*"),
                    None => {
                        freed.insert("port");
                        if *rest {
                            format!("{scheme}://{host}:*/**")
                        } else {
                            format!("{scheme}://{host}:*")
                        }
                    }
                };
                out.push(format!("{}{}", exact_pattern(p), text));
                let pattern = out.join(" ");
                if port.is_none() && !rest {
                    // No `/` to stop at: the `**` form cannot hold it, and
                    // the port is the last thing kept.
                    let cut = pattern.len() - 1;
                    return (format!("{}*", &pattern[..cut]), freed);
                }
                return (pattern, freed);
            }
        }
    }
    (out.join(" "), freed)
}

/// A literal operand: glob characters matched as themselves by `?`, and
/// shell-quoted as the recorder writes it.
fn render_lit(value: &str) -> String {
    exact_pattern(&crate::event::shell_quote(value))
}

struct Parsed {
    command: String,
    stat: Stat,
    words: Vec<Word>,
}

/// Builds exec rules from distinct commands (or, when merging, earlier
/// patterns: a trailing ` *` marks an already widened prefix, kept as it
/// is).
pub fn generalise(entries: &BTreeMap<String, Stat>, _threshold: usize) -> Vec<ExecRule> {
    let mut rules = Vec::new();
    let mut by_program: BTreeMap<String, Vec<Parsed>> = BTreeMap::new();
    let mut add = |command: &str, stat: &Stat, words: Vec<Word>| {
        by_program
            .entry(program_key(&words[0].value))
            .or_default()
            .push(Parsed {
                command: command.to_string(),
                stat: stat.clone(),
                words,
            })
    };
    for (command, stat) in entries {
        // An earlier rule's pattern (when merging) ends in `*` or holds
        // `**`; an observed command is argv, where `*` is always quoted.
        let earlier = command.ends_with('*') || command.contains("**");
        let words = simple_words(command).filter(|_| !earlier);
        if !earlier && words.as_ref().is_none_or(|w| runs_script(w)) {
            // A script: the engine admits it when every simple command it
            // runs is admitted, so those are what is learned.
            let analysis = crate::policy::shell::analyze(command);
            let parts: Option<Vec<(String, Vec<Word>)>> = analysis
                .complete
                .then(|| {
                    analysis
                        .components(command)
                        .map(|c| {
                            // The words the engine decides (grouping words
                            // such as `do`, and `\`-newlines, gone) where
                            // they are more than a requoting of the text.
                            let words = if c.same_words {
                                script_words(c.text).or_else(|| script_words(c.normalized))
                            } else {
                                script_words(c.normalized).or_else(|| script_words(c.text))
                            };
                            words.map(|w| (c.text.to_string(), w))
                        })
                        .filter(|c| c.as_ref().is_none_or(|(_, w)| !w.is_empty()))
                        .collect()
                })
                .flatten();
            if let Some(parts) = parts.filter(|p| !p.is_empty()) {
                for (text, w) in parts {
                    add(&text, stat, w);
                }
                continue;
            }
        }
        match words {
            Some(words) => add(command, stat, words),
            None => rules.push(ExecRule {
                program: command.split(' ').next().unwrap_or("").to_string(),
                pattern: if earlier {
                    command.clone()
                } else {
                    exact_pattern(command)
                },
                stat: stat.clone(),
                exact_because: (!earlier).then_some("shell syntax: a script, not one command"),
                generalised: BTreeSet::new(),
                volatile: !earlier && names_volatile(command),
                absorbed: vec![command.clone()],
            }),
        }
    }
    for (program, cmds) in by_program {
        program_rules(&program, &cmds, &mut rules);
    }
    rules.sort_by(|a, b| (&a.program, &a.pattern).cmp(&(&b.program, &b.pattern)));
    rules.dedup_by(|b, a| {
        if a.pattern == b.pattern {
            a.stat.absorb(&b.stat);
            a.absorbed.append(&mut b.absorbed);
            true
        } else {
            false
        }
    });
    rules
}

/// What groups the commands of one program: the program, or for one the
/// project runs by relative path (`./build/tool`) its directory
/// (`./build/*`), whose programs are the project's alike (see
/// [`widen_project_names`]).
fn program_key(program: &str) -> String {
    let relative = program.contains('/') && !program.starts_with('/') && !program.starts_with('$');
    match program.rfind('/') {
        Some(i) if relative => format!("{}*", &program[..=i]),
        _ => program.to_string(),
    }
}

/// The assembler and linkers a compiler driver runs (`as`,
/// `x86_64-linux-gnu-as`, `ld.bfd`, `collect2`): their arguments are the
/// project's flags and the driver's temp files, their effects the files
/// they read and write, each decided at its own call.
fn is_toolchain_helper(exe: &str) -> bool {
    let base = exe.rsplit('-').next().unwrap_or(exe);
    matches!(
        base,
        "as" | "ld" | "ld.bfd" | "ld.gold" | "ld.lld" | "collect2" | "lto-wrapper"
    )
}

/// A shell given a script with `-c`: its words are not one command.
fn runs_script(words: &[Word]) -> bool {
    let exe = family(&words[0].value);
    SHELLS.contains(&exe)
        && words[1..].iter().any(|w| {
            let v = w.value.as_str();
            is_flag(v) && !v.starts_with("--") && v.contains('c')
        })
}

/// The observations of one head, by the shape of their tails.
type Shapes<'a> = BTreeMap<Vec<String>, Vec<(&'a Parsed, Vec<Tok>)>>;

fn program_rules(program: &str, cmds: &[Parsed], rules: &mut Vec<ExecRule>) {
    let exe = family(program);
    // A helper a tool runs from its library directory, or a compiler's
    // back end (the driver passes it the project's flags and its own temp
    // files): it may run.
    let helper = program.starts_with('/') && HELPER_DIRS.iter().any(|d| program.starts_with(d));
    if helper || is_toolchain_helper(exe) {
        let mut stat = Stat::default();
        let mut bare = None;
        let mut absorbed = Vec::new();
        for c in cmds {
            if c.words.len() == 1 {
                bare = Some(c);
            } else {
                stat.absorb(&c.stat);
                absorbed.push(c.command.clone());
            }
        }
        if let Some(c) = bare {
            rules.push(exact_rule(program, c, None));
        }
        if stat.count > 0 {
            rules.push(ExecRule {
                program: program.to_string(),
                pattern: format!("{} *", exact_pattern(&cmds[0].words[0].raw)),
                stat,
                exact_because: None,
                generalised: BTreeSet::from(["a tool's helper: any arguments"]),
                volatile: false,
                absorbed,
            });
        }
        return;
    }
    // head words -> (shape -> members)
    let mut heads: BTreeMap<Vec<String>, Shapes<'_>> = BTreeMap::new();
    let keep_paths = KEEP_PATHS.contains(&exe);
    // Heads that run the project's code: their support.
    let mut project: BTreeMap<Vec<String>, (Stat, Vec<String>)> = BTreeMap::new();
    for c in cmds {
        match head_of(&c.words) {
            Head::Exact => rules.push(exact_rule(
                program,
                c,
                Some("changes privileges or writes raw devices"),
            )),
            Head::Project(n) => {
                let n = n.min(c.words.len());
                let e = project.entry(c.words[..n].iter().map(|w| w.raw.clone()).collect());
                let (stat, absorbed) = e.or_default();
                stat.absorb(&c.stat);
                absorbed.push(c.command.clone());
            }
            Head::Words(n) => {
                let n = n.min(c.words.len());
                let key: Vec<String> = c.words[..n].iter().map(|w| w.raw.clone()).collect();
                let tail = tail_tokens(&c.words[n..], keep_paths);
                heads
                    .entry(key)
                    .or_default()
                    .entry(shape(&tail))
                    .or_default()
                    .push((c, tail));
            }
        }
    }
    for (pattern, (stat, absorbed)) in widen_project_names(&mut project) {
        rules.push(ExecRule {
            program: program.to_string(),
            pattern,
            stat,
            exact_because: None,
            generalised: BTreeSet::from([PROJECT_NAMES, PROJECT_CODE]),
            volatile: false,
            absorbed,
        });
    }
    for (key, (stat, absorbed)) in project {
        let head: Vec<String> = key.iter().map(|w| exact_pattern(w)).collect();
        let head = head.join(" ");
        for pattern in [head.clone(), format!("{head} *")] {
            rules.push(ExecRule {
                program: program.to_string(),
                pattern,
                stat: stat.clone(),
                exact_because: None,
                generalised: BTreeSet::from([PROJECT_CODE]),
                volatile: false,
                absorbed: absorbed.clone(),
            });
        }
    }
    // Modules an interpreter ran (`python3 -m pkg.cli`): two or more of
    // them, any module (the project's packages have the project's names,
    // and `-m` runs no more than `-c` code would).
    let mut modules: BTreeMap<Vec<String>, Vec<Vec<String>>> = BTreeMap::new();
    for key in heads.keys() {
        if let [before @ .., flag, _] = key.as_slice() {
            if flag == "-m" && INTERPRETERS_M.contains(&exe) {
                let mut prefix = before.to_vec();
                prefix.push(flag.clone());
                modules.entry(prefix).or_default().push(key.clone());
            }
        }
    }
    for (prefix, keys) in modules {
        if keys.len() < NAMES_BEFORE_WIDENING {
            continue;
        }
        let mut stat = Stat::default();
        let mut absorbed = Vec::new();
        for key in keys {
            for (c, _) in heads
                .remove(&key)
                .into_iter()
                .flat_map(|s| s.into_values())
                .flatten()
            {
                stat.absorb(&c.stat);
                absorbed.push(c.command.clone());
            }
        }
        let words: Vec<String> = prefix.iter().map(|w| exact_pattern(w)).collect();
        rules.push(ExecRule {
            program: program.to_string(),
            pattern: format!("{} *", words.join(" ")),
            stat,
            exact_because: None,
            generalised: BTreeSet::from(["the module (several were run)"]),
            volatile: false,
            absorbed,
        });
    }
    for (key, shapes) in heads {
        let head: Vec<Word> = shapes
            .values()
            .next()
            .map(|m| m[0].0.words[..key.len()].to_vec())
            .unwrap_or_default();
        if shapes.len() >= SHAPES_BEFORE_WIDENING {
            let mut stat = Stat::default();
            let mut absorbed = Vec::new();
            for (c, _) in shapes.values().flatten() {
                stat.absorb(&c.stat);
                absorbed.push(c.command.clone());
            }
            let pattern = format!(
                "{} *",
                head.iter()
                    .map(|w| exact_pattern(&w.raw))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            let bare = shapes.get(&Vec::new()).map(|m| m[0].0);
            if let Some(c) = bare {
                rules.push(exact_rule(program, c, None));
            }
            rules.push(ExecRule {
                program: program.to_string(),
                pattern,
                stat,
                exact_because: None,
                generalised: BTreeSet::from(["arguments (they took many shapes)"]),
                volatile: false,
                absorbed,
            });
            continue;
        }
        for members in shapes.values() {
            let tails: Vec<&Vec<Tok>> = members.iter().map(|(_, t)| t).collect();
            let slots = unify(&tails);
            let (pattern, generalised) = render(&head, &slots);
            let mut stat = Stat::default();
            let mut absorbed = Vec::new();
            for (c, _) in members {
                stat.absorb(&c.stat);
                absorbed.push(c.command.clone());
            }
            let volatile =
                generalised.is_empty() && members.iter().any(|(c, _)| names_volatile(&c.command));
            // A program whose every argument is data runs without any too.
            let bare = head.len() == 1 && pattern == format!("{} *", exact_pattern(&head[0].raw));
            if bare {
                rules.push(ExecRule {
                    program: program.to_string(),
                    pattern: exact_pattern(&head[0].raw),
                    stat: Stat::default(),
                    exact_because: None,
                    generalised: BTreeSet::new(),
                    volatile: false,
                    absorbed: Vec::new(),
                });
            }
            rules.push(ExecRule {
                program: program.to_string(),
                pattern,
                stat,
                exact_because: None,
                generalised,
                volatile,
                absorbed,
            });
        }
    }
}

/// Heads that run the project's code, by head words: their support.
type ProjectHeads = BTreeMap<Vec<String>, (Stat, Vec<String>)>;

/// Takes out of `project` the heads whose last word (the program, or the
/// script an interpreter runs) is one of [`NAMES_BEFORE_WIDENING`] or more
/// names in one directory of the project, after the same words: each
/// group becomes one pattern that admits any name there (`./build/*`,
/// `python3 *`, `node tools/*`), with its support.
/// A name in a place `$PROJECT/` patterns already admit, a quoted word, or
/// a word with glob characters stays as it is.
fn widen_project_names(project: &mut ProjectHeads) -> BTreeMap<String, (Stat, Vec<String>)> {
    let mut groups: BTreeMap<(Vec<String>, String), Vec<Vec<String>>> = BTreeMap::new();
    for key in project.keys() {
        let Some((last, before)) = key.split_last() else {
            continue;
        };
        // (A program of the project's by its `$PROJECT/` name is one
        // `$PROJECT/**` admits already; a script of it run by a program is
        // not.)
        let body = last.strip_prefix("$PROJECT").unwrap_or(last);
        let plain = crate::event::shell_quote(body) == body
            && !last.contains(['*', '?', '[', ']'])
            && !last.starts_with('-')
            && (!last.starts_with("$PROJECT") || !before.is_empty())
            && !last.starts_with('/');
        if !plain {
            continue;
        }
        let dir = last.rfind('/').map_or("", |i| &last[..=i]);
        groups
            .entry((before.to_vec(), dir.to_string()))
            .or_default()
            .push(key.clone());
    }
    let mut out = BTreeMap::new();
    for ((before, dir), keys) in groups {
        if keys.len() < NAMES_BEFORE_WIDENING {
            continue;
        }
        let mut words: Vec<String> = before.iter().map(|w| exact_pattern(w)).collect();
        words.push(format!("{}*", exact_pattern(&dir)));
        let entry: &mut (Stat, Vec<String>) = out.entry(words.join(" ")).or_default();
        for key in keys {
            if let Some((stat, absorbed)) = project.remove(&key) {
                entry.0.absorb(&stat);
                entry.1.extend(absorbed);
            }
        }
    }
    out
}

fn exact_rule(program: &str, c: &Parsed, why: Option<&'static str>) -> ExecRule {
    ExecRule {
        program: program.to_string(),
        pattern: exact_pattern(&c.command),
        stat: c.stat.clone(),
        exact_because: why,
        generalised: BTreeSet::new(),
        volatile: names_volatile(&c.command),
        absorbed: vec![c.command.clone()],
    }
}

/// Whether some word of the command (split on spaces and quotes) is
/// volatile.
fn names_volatile(command: &str) -> bool {
    command
        .split([' ', '\'', '"', '='])
        .filter(|w| !w.is_empty())
        .any(|w| {
            (w.len() >= 3 && w.bytes().all(|b| b.is_ascii_digit())) || paths::normalise_word(w) != w
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gen(cmds: &[&str]) -> Vec<String> {
        let mut m = BTreeMap::new();
        for c in cmds {
            m.entry(c.to_string())
                .or_insert_with(Stat::default)
                .add(c, 1);
        }
        generalise(&m, 3).into_iter().map(|r| r.pattern).collect()
    }

    #[test]
    fn data_is_freed_and_structure_kept() {
        assert_eq!(
            gen(&["git commit -q -m 'fix the parser'"]),
            ["git commit -q -m *"]
        );
        assert_eq!(
            gen(&[
                "curl -s -m 5 -o /dev/null 'http://127.0.0.1:8000/api/items?q=1'",
                "curl -s -m 5 -o /dev/null 'http://127.0.0.1:8000/api/users?q=2'"
            ]),
            ["curl -s -m 5 -o /dev/null http://127.0.0.1:8000/*"]
        );
        assert_eq!(
            gen(&["sed -i 's/a/b/' src/x.py", "sed -i 's/c/d/' src/y.py"]),
            ["sed -i *"]
        );
        assert_eq!(gen(&["python3 -c 'print(1)'"]), ["python3 -c *"]);
        assert_eq!(gen(&["rm -f /tmp/tmp.AbCdEf1234"]), ["rm -f /tmp/tmp.*"]);
        assert_eq!(
            gen(&["git status", "git status --short", "git diff"]),
            // Two shapes of `git status`: its flags vary.
            ["git diff", "git status", "git status *"]
        );
    }

    #[test]
    fn urls_keep_their_origin_and_a_varying_port_is_freed() {
        assert_eq!(
            gen(&[
                "curl -s http://127.0.0.1:41234/api/a",
                "curl -s http://127.0.0.1:38211/api/b"
            ]),
            ["curl -s http://127.0.0.1:*/**"]
        );
        assert_eq!(
            gen(&["curl -s http://example.com/x"]),
            ["curl -s http://example.com/*"]
        );
    }

    #[test]
    fn helpers_of_tools_may_run() {
        assert_eq!(
            gen(&["/usr/lib/gcc/x86_64-linux-gnu/12/cc1 -quiet src/a.c -o /tmp/ccAb12Cd.s"]),
            ["/usr/lib/gcc/x86_64-linux-gnu/12/cc1 *"]
        );
    }

    #[test]
    fn the_projects_own_code_takes_any_arguments() {
        assert_eq!(
            gen(&["node tools/lint.js src"]),
            ["node tools/lint.js", "node tools/lint.js *"]
        );
        assert_eq!(gen(&["make check"]), ["make", "make *"]);
        assert_eq!(
            gen(&["./configure --prefix=/usr"]),
            ["./configure", "./configure *"]
        );
        assert_eq!(gen(&["npm run build"]), ["npm run", "npm run *"]);
        // A script outside the project is anti-unified as any program.
        assert_eq!(
            gen(&["python3 /opt/tool/run.py --check"]),
            ["python3 /opt/tool/run.py --check"]
        );
    }

    #[test]
    fn two_names_of_the_projects_code_in_one_directory_admit_any_there() {
        // The next session's scripts and programs have other names.
        assert_eq!(
            gen(&["python3 run_bravo.py", "python3 run_ember.py --fast"]),
            ["python3 *"]
        );
        assert_eq!(
            gen(&["./build/ravenctl", "./build/xenonctl 7", "./tools/gen.sh"]),
            ["./build/*", "./tools/gen.sh", "./tools/gen.sh *"]
        );
        assert_eq!(
            gen(&["node test/a.test.js", "node test/b.test.js", "node lint.js"]),
            ["node lint.js", "node lint.js *", "node test/*"]
        );
        // A script of the project's by its `$PROJECT/` name.
        assert_eq!(
            gen(&[
                "/usr/bin/node $PROJECT/test/a-1.test.js",
                "/usr/bin/node $PROJECT/test/b-2.test.js"
            ]),
            ["/usr/bin/node $PROJECT/test/*"]
        );
        // Two modules run with -m: any module.
        assert_eq!(
            gen(&["python3 -m unittest discover", "python3 -m app.cli run x"]),
            ["python3 -m *"]
        );
        // Outside the project, or privileged: as before.
        assert_eq!(
            gen(&["python3 /opt/a.py", "python3 /opt/b.py"]),
            ["python3 /opt/a.py", "python3 /opt/b.py"]
        );
    }

    #[test]
    fn many_shapes_keep_only_the_head() {
        assert_eq!(
            gen(&["git log -3", "git log --oneline", "git log -n 5 --stat"]),
            ["git log *"]
        );
    }

    #[test]
    fn privileges_and_shell_syntax_stay_exact() {
        assert_eq!(gen(&["sudo ls /root"]), ["sudo ls /root"]);
        // A script is learned as the commands it runs.
        assert_eq!(gen(&["ls | wc -l"]), ["ls", "wc -l"]);
        assert_eq!(
            gen(&["bash -c 'f=$(mktemp /tmp/m.XXXX); grep -rn x src > \"$f\"; rm -f \"$f\"'"]),
            ["grep -rn *", "mktemp", "mktemp *", "rm -f *"]
        );
    }

    #[test]
    fn a_make_recipe_with_continued_lines_is_learned_as_its_commands() {
        // make hands sh the recipe's lines with their backslash-newlines.
        let recipe = "/bin/sh -c 'for i in tests/*.txt; do \\\n  b=$(basename $i .txt); \\\n  ./build/bin/tool \"$i\" > out.txt || exit 1; \\\n done'";
        let got = gen(&[recipe]);
        // (`for` and `exit` are the engine's components too: it admits the
        // script when each is admitted.)
        assert!(
            got.iter()
                .all(|p| !p.starts_with("do") && !p.starts_with('\\')),
            "{got:?}"
        );
        assert!(
            got.iter().any(|p| p.starts_with("./build/bin/tool")),
            "{got:?}"
        );
    }

    #[test]
    fn glob_characters_in_exact_commands_match_only_themselves() {
        assert_eq!(exact_pattern("find . -name '*.rs'"), "find . -name '?.rs'");
    }
}
