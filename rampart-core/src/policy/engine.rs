//! The compiled policy engine: loaded once, asked for every call.
//!
//! Owns turning a [`PolicySet`] into matchers built once (every command glob
//! of every rule in one [`GlobSet`], every `command_contains` entry in one
//! [`LiteralSet`], every path glob in one more set) and deciding a
//! [`Request`] against them in Go Rampart's order (see [`super`]). Command
//! conditions go through the shell reading of [`shell::analyze`]: deny and
//! ask rules match when any spelling or component of the command matches,
//! allow and watch rules only when every component the command runs is
//! covered (or a pattern spells the whole command). An [`Engine`] is
//! immutable and `Send + Sync`; evaluation allocates its scratch bits, the
//! [`Decision`] and, for commands that need parsing, their analysis. It must
//! never block, touch the file system or keep state between calls.

use std::borrow::Cow;
use std::ops::Range;
use std::path::PathBuf;

use super::glob::{file_match_str, normalize_domain, Bits, Glob, GlobKind, GlobSet, LiteralSet};
use super::schema::{self, ConditionDef, PolicySet, RuleAction, TestCase};
use super::shell::{self, Analysis};
use super::{Action, Decision, LoadError, Request};

mod floor;

/// How sources are read into an engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadOptions {
    /// The home directory that `~` and `$HOME` at the start of a path pattern
    /// stand for; `None` leaves them literal.
    pub home: Option<String>,
}

impl Default for LoadOptions {
    /// The home directory from `$HOME`.
    fn default() -> Self {
        LoadOptions {
            home: std::env::var("HOME").ok().filter(|h| !h.is_empty()),
        }
    }
}

/// Loaded, compiled policies.
#[derive(Debug)]
pub struct Engine {
    default_action: Action,
    /// In evaluation order: priority, then load order.
    policies: Vec<CompiledPolicy>,
    /// For the tools the interceptors produce, the policies whose
    /// `match.tool` admits them, in evaluation order.
    by_tool: Vec<(&'static str, Vec<usize>)>,
    commands: GlobSet,
    contains: LiteralSet,
    paths: GlobSet,
    /// For each command glob, the rule slot it lets through (`NO_SLOT` for
    /// `command_not_matches` globs); the same for each `command_contains`.
    glob_slot: Vec<u32>,
    contains_slot: Vec<u32>,
    command_slots: usize,
    /// Per command slot: how its rule matches commands (see [`shell`]).
    slots: Vec<SlotInfo>,
    /// The granting slots with `command_contains` entries.
    grant_contains_slots: Vec<usize>,
    /// Per command glob: it may grant a whole command as written (a
    /// composite pattern, or one without `*`).
    glob_whole: Vec<bool>,
    tests: Vec<(PathBuf, TestCase)>,
    /// Some path pattern starts with `$PROJECT` / `$PARENTS`: only then are
    /// a call's project spellings made.
    project_paths: bool,
    /// Some command pattern starts with `$PROJECT/`: only then is a
    /// command respelled (see [`project_command`]).
    project_commands: bool,
    /// Which compiled engine this is, unique in the process
    /// ([`Engine::serial`]).
    serial: u64,
}

const NO_SLOT: u32 = u32::MAX;

#[derive(Debug)]
struct CompiledPolicy {
    name: String,
    /// Where it is written: its file and the line of its `name`.
    file: PathBuf,
    line: usize,
    agent: Option<Glob>,
    session: Option<Glob>,
    /// Empty: every tool.
    tools: Vec<Glob>,
    rules: Vec<CompiledRule>,
}

#[derive(Debug)]
struct CompiledRule {
    /// The line where the rule starts.
    line: usize,
    action: Action,
    /// deny and ask: any command the call runs may match; allow, watch and
    /// webhook: every command it runs must be covered.
    restrictive: bool,
    message: String,
    when: When,
}

#[derive(Debug)]
enum When {
    Always,
    Never,
    Fields(Box<Fields>),
}

/// The fields of one `when`; ranges index the engine's shared sets.
#[derive(Debug, Default)]
struct Fields {
    /// `command_matches` and `command_contains` (alternatives), when any:
    /// the slot that their matches set.
    command: Option<u32>,
    command_not: Range<usize>,
    env: Option<Vec<Glob>>,
    path: Option<Range<usize>>,
    path_not: Range<usize>,
    url: Option<Vec<Glob>>,
    domain: Option<DomainSet>,
    depth: Option<(Option<i64>, Option<i64>, Option<i64>)>,
    session: Option<Vec<Glob>>,
    session_not: Vec<Glob>,
}

/// `domain_matches` of one rule: names without wildcards (normalized) looked
/// up at once, the others matched one by one.
#[derive(Debug, Default)]
struct DomainSet {
    exact: std::collections::HashSet<String>,
    wild: Vec<Glob>,
}

/// The tools `rampart run` produces; their policy lists are precomputed.
const KNOWN_TOOLS: [&str; 4] = ["exec", "read", "write", "net"];

/// `command_contains` entries and their rule slots, while rules are compiled.
#[derive(Default)]
struct Contains {
    entries: Vec<String>,
    slots: Vec<u32>,
    next_slot: u32,
    info: Vec<SlotInfo>,
}

/// The command condition of one rule.
#[derive(Debug, Default)]
struct SlotInfo {
    restrictive: bool,
    /// Its `command_matches` globs.
    globs: Range<usize>,
    /// Its `command_contains` entries, for granting rules (matched case
    /// sensitively, component by component).
    contains: Vec<String>,
}

/// Collects globs of one set while rules are compiled.
struct SetBuilder {
    kind: GlobKind,
    globs: Vec<Glob>,
    /// The rule slot of each glob (command globs only).
    slots: Vec<u32>,
}

impl SetBuilder {
    fn add(
        &mut self,
        file: &std::path::Path,
        items: &[schema::Located<String>],
        rewrite: impl Fn(&str) -> String,
        errors: &mut Vec<LoadError>,
    ) -> Range<usize> {
        let start = self.globs.len();
        for item in items {
            let text = rewrite(&item.value);
            match Glob::new(&text, self.kind) {
                Ok(g) => {
                    self.globs.push(g);
                    self.slots.push(NO_SLOT);
                }
                Err(e) => errors.push(LoadError {
                    file: file.to_path_buf(),
                    line: item.line,
                    message: format!("malformed glob {text:?}: {e}"),
                }),
            }
        }
        start..self.globs.len()
    }
}

fn compile_list(
    file: &std::path::Path,
    items: &[schema::Located<String>],
    kind: GlobKind,
    lowercase: bool,
    errors: &mut Vec<LoadError>,
) -> Vec<Glob> {
    items
        .iter()
        .filter_map(|item| {
            let text = if lowercase {
                item.value.to_lowercase()
            } else {
                item.value.clone()
            };
            Glob::new(&text, kind)
                .map_err(|e| {
                    errors.push(LoadError {
                        file: file.to_path_buf(),
                        line: item.line,
                        message: format!("malformed glob {text:?}: {e}"),
                    })
                })
                .ok()
        })
        .collect()
}

/// How a path under the call's project root is spelled for the patterns
/// that start with `$PROJECT`: this prefix, then the rest of the path. No
/// cleaned absolute path (one `/` at its start) and no relative spelling (no
/// `/` at its start) begins with it, so only a project pattern can match a
/// project spelling and a project pattern nothing else.
pub const PROJECT_PREFIX: &str = "//$PROJECT";

/// How a file directly inside a directory above the project root is
/// spelled for the patterns that start with `$PARENTS/` (the walk up that
/// tools make looking for their configuration: `AGENTS.md`,
/// `package.json`, `.editorconfig`): this prefix, `/`, the file's name.
pub const PARENTS_PREFIX: &str = "//$PARENTS";

/// `~`, `~/x`, `$HOME`, `$HOME/x`, `${HOME}/x` at the start of a path
/// pattern become the home directory; `$PROJECT`, `$PROJECT/x`,
/// `${PROJECT}/x` become [`PROJECT_PREFIX`] and the rest.
pub fn expand_home(pattern: &str, home: Option<&str>) -> String {
    for (prefix, spelled) in [
        ("$PROJECT", PROJECT_PREFIX),
        ("${PROJECT}", PROJECT_PREFIX),
        ("$PARENTS", PARENTS_PREFIX),
        ("${PARENTS}", PARENTS_PREFIX),
    ] {
        if let Some(rest) = pattern.strip_prefix(prefix) {
            if rest.is_empty() || rest.starts_with('/') {
                return format!("{spelled}{rest}");
            }
        }
    }
    let Some(home) = home else {
        return pattern.to_string();
    };
    let home = home.trim_end_matches('/');
    for prefix in ["~", "$HOME", "${HOME}"] {
        if let Some(rest) = pattern.strip_prefix(prefix) {
            if rest.is_empty() || rest.starts_with('/') {
                return format!("{home}{rest}");
            }
        }
    }
    pattern.to_string()
}

impl Engine {
    /// Loads policy files and directories (the `*.yaml`/`*.yml` directly
    /// inside, sorted by path), in the order given, with `~` meaning `$HOME`.
    pub fn load(sources: &[PathBuf]) -> Result<Engine, Vec<LoadError>> {
        Engine::load_with(sources, &LoadOptions::default())
    }

    pub fn load_with(sources: &[PathBuf], options: &LoadOptions) -> Result<Engine, Vec<LoadError>> {
        let texts = schema::read_sources(sources)?;
        Engine::from_texts_with(&texts, options)
    }

    /// Builds an engine from policy texts (e.g. embedded policies); each
    /// `PathBuf` names its text in errors.
    pub fn from_texts(sources: &[(PathBuf, String)]) -> Result<Engine, Vec<LoadError>> {
        Engine::from_texts_with(sources, &LoadOptions::default())
    }

    pub fn from_texts_with(
        sources: &[(PathBuf, String)],
        options: &LoadOptions,
    ) -> Result<Engine, Vec<LoadError>> {
        let set = schema::parse_sources(sources)?;
        Engine::compile(&set, options)
    }

    /// Compiles a parsed set.
    pub fn compile(set: &PolicySet, options: &LoadOptions) -> Result<Engine, Vec<LoadError>> {
        let mut errors = Vec::new();
        let mut commands = SetBuilder {
            kind: GlobKind::Text,
            globs: Vec::new(),
            slots: Vec::new(),
        };
        let mut paths = SetBuilder {
            kind: GlobKind::Path,
            globs: Vec::new(),
            slots: Vec::new(),
        };
        let mut contains = Contains::default();
        let home = options.home.as_deref();
        // Command patterns: `$PROJECT/` at the start names a program of the
        // project, and as the second word a script of it that a program
        // runs (see `project_command`).
        let same = |s: &str| {
            for prefix in ["$PROJECT/", "${PROJECT}/"] {
                if let Some(rest) = s.strip_prefix(prefix) {
                    return format!("{PROJECT_PREFIX}/{rest}");
                }
                if let Some((first, rest)) = s.split_once(' ') {
                    if let Some(rest) = rest.strip_prefix(prefix) {
                        return format!("{first} {PROJECT_PREFIX}/{rest}");
                    }
                }
            }
            s.to_string()
        };
        let expand = |s: &str| expand_home(s, home);

        let mut ordered: Vec<(i64, usize, CompiledPolicy)> = Vec::new();
        let mut tests = Vec::new();
        for file in &set.files {
            let f = file.file.as_path();
            for t in &file.tests {
                tests.push((file.file.clone(), t.clone()));
            }
            for p in &file.policies {
                if !p.enabled {
                    continue;
                }
                let scope_glob = |l: &Option<schema::Located<String>>,
                                  errors: &mut Vec<LoadError>| {
                    l.as_ref().and_then(|l| {
                        compile_list(f, std::slice::from_ref(l), GlobKind::Text, false, errors)
                            .pop()
                    })
                };
                let agent = scope_glob(&p.agent, &mut errors);
                let session = scope_glob(&p.session, &mut errors);
                let tools = compile_list(f, &p.tools, GlobKind::Text, false, &mut errors);
                let mut rules = Vec::new();
                for r in &p.rules {
                    let action = match r.action.value {
                        RuleAction::Allow => Action::Allow,
                        RuleAction::Deny => Action::Deny,
                        RuleAction::Watch => Action::Watch,
                        RuleAction::Ask => Action::Ask,
                        // No HTTP call from a syscall: the rule decides as an
                        // unreachable webhook does.
                        RuleAction::Webhook => {
                            if r.webhook.as_ref().and_then(|w| w.fail_open) == Some(true) {
                                Action::Allow
                            } else {
                                Action::Deny
                            }
                        }
                    };
                    let restrictive = matches!(r.action.value, RuleAction::Deny | RuleAction::Ask);
                    let when = match &r.when {
                        None => When::Always,
                        Some(c) => compile_condition(
                            f,
                            c,
                            restrictive,
                            &mut commands,
                            &mut paths,
                            &mut contains,
                            &same,
                            &expand,
                            &mut errors,
                        ),
                    };
                    rules.push(CompiledRule {
                        line: r.line,
                        action,
                        restrictive,
                        message: r.message.clone(),
                        when,
                    });
                }
                let order = ordered.len();
                ordered.push((
                    p.effective_priority(),
                    order,
                    CompiledPolicy {
                        name: p.name.clone(),
                        file: file.file.clone(),
                        line: p.line,
                        agent,
                        session,
                        tools,
                        rules,
                    },
                ));
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        ordered.sort_by_key(|(priority, order, _)| (*priority, *order));
        let policies: Vec<CompiledPolicy> = ordered.into_iter().map(|(_, _, p)| p).collect();
        let by_tool = KNOWN_TOOLS
            .iter()
            .map(|&tool| {
                let list = policies
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| p.admits_tool(tool))
                    .map(|(i, _)| i)
                    .collect();
                (tool, list)
            })
            .collect();
        let glob_whole = commands
            .globs
            .iter()
            .map(|g| {
                let p = g.as_str();
                !p.contains('*') || shell::analyze(p).composite
            })
            .collect();
        let spelled = |g: &Glob| {
            g.as_str().starts_with(PROJECT_PREFIX) || g.as_str().starts_with(PARENTS_PREFIX)
        };
        let project_paths = paths.globs.iter().any(spelled);
        let project_commands = commands.globs.iter().any(|g| {
            spelled(g)
                || g.as_str()
                    .split_once(' ')
                    .is_some_and(|(_, rest)| rest.starts_with(PROJECT_PREFIX))
        });
        Ok(Engine {
            project_paths,
            project_commands,
            default_action: set.default_action,
            policies,
            by_tool,
            commands: GlobSet::new(commands.globs),
            contains: LiteralSet::new(&contains.entries),
            paths: GlobSet::new(paths.globs),
            glob_slot: commands.slots,
            contains_slot: contains.slots,
            command_slots: contains.next_slot as usize,
            grant_contains_slots: contains
                .info
                .iter()
                .enumerate()
                .filter(|(_, i)| !i.contains.is_empty())
                .map(|(s, _)| s)
                .collect(),
            slots: contains.info,
            glob_whole,
            tests,
            serial: {
                static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
                NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            },
        })
    }

    /// A number no other engine compiled in this process has: what a cache
    /// of facts derived from one engine (the files it refuses that have
    /// other names) is keyed by.
    pub fn serial(&self) -> u64 {
        self.serial
    }

    /// The action when no policy is in scope or no rule fired.
    pub fn default_action(&self) -> Action {
        self.default_action
    }

    /// What a call of `tool` that carries only a path (an open: `read`,
    /// `write`) must contain to be refused. `Some(literals)`: a call none of
    /// whose path spellings (absolute and cleaned, or relative to its cwd)
    /// contains any of the literals is never refused by this engine,
    /// whatever its caller, so it needs no verdict; an empty list means no
    /// such call is ever refused. `None`: some call may be refused whatever
    /// its path (a deny rule without a path condition, a refusing default
    /// that no unconditional allow rule shadows, a path pattern without a
    /// literal).
    ///
    /// For other tools pass `path_only: false`: the answer is then `Some`
    /// (empty) only when no call of the tool can be refused at all.
    pub fn refusal_literals(&self, tool: &str, path_only: bool) -> Option<Vec<String>> {
        let mut literals = Vec::new();
        let mut default_reachable = true;
        for p in self.policies.iter().filter(|p| p.admits_tool(tool)) {
            let whole_scope = p.agent.is_none() && p.session.is_none();
            for r in &p.rules {
                let refuses = !matches!(r.action, Action::Allow | Action::Watch);
                match &r.when {
                    When::Never => {}
                    When::Always if refuses => return None,
                    When::Always => {
                        // A rule fires for every call this policy admits: the
                        // rules after it never do, and with no caller filter
                        // the default action is never reached.
                        default_reachable &= !whole_scope;
                        break;
                    }
                    When::Fields(_) if !refuses => {}
                    When::Fields(_) if !path_only => return None,
                    When::Fields(f) => self.push_refusal_literals(f, &mut literals)?,
                }
            }
        }
        if default_reachable && !matches!(self.default_action, Action::Allow | Action::Watch) {
            return None;
        }
        literals.sort();
        literals.dedup();
        Some(literals)
    }

    /// Add to `literals` what every path-only call a refusing rule's `when`
    /// matches contains: a literal of each of its path patterns. `None`
    /// when it could match such a call without one (a pattern without a
    /// literal, a project or parents pattern, or no condition but the path's
    /// absence).
    fn push_refusal_literals(&self, f: &Fields, literals: &mut Vec<String>) -> Option<()> {
        match &f.path {
            Some(range) => {
                for i in range.clone() {
                    let glob = self.paths.glob(i);
                    // A project pattern's literal is spelled only in the
                    // project form the screen never sees.
                    if glob.as_str().starts_with(PROJECT_PREFIX)
                        || glob.as_str().starts_with(PARENTS_PREFIX)
                    {
                        return None;
                    }
                    literals.push(glob.required_literal()?);
                }
                Some(())
            }
            // A condition on a field a path-only call lacks never matches one.
            None if f.command.is_some()
                || f.env.is_some()
                || f.url.is_some()
                || f.domain.is_some() =>
            {
                Some(())
            }
            None => None,
        }
    }

    /// Where an open (a call of `tool`, `read` or `write`, that carries only
    /// a path) is allowed whatever its caller, for a policy that refuses what
    /// it does not allow — a refusing default, or a rule that refuses every
    /// call its policy still sees, as a learned policy ends with — and for
    /// which [`Engine::refusal_literals`] can say nothing. `Some((literals,
    /// places))`: an absolute, clean path that contains none of the literals
    /// (every path a refusing rule matches contains one) and is one of the
    /// places (a file an allow rule names, or beneath a directory it opens
    /// whole, `dir/**`) is allowed, or watched, by this engine. `project`:
    /// the directory `$PROJECT` stands for in every request, when it is the
    /// same for all (one `rampart run`), so that `$PROJECT/**` is a place.
    ///
    /// The places are those of allow and watch rules with a path condition
    /// and nothing else, before any rule of their policy that fires for
    /// every call; a policy that ends with such a refusing rule allows only
    /// its own places, and a refusing default only the places of policies
    /// that admit every caller: a path must be in all of these (the list is
    /// their intersection). `None` where no such answer can be given: as
    /// for [`Engine::refusal_literals`] (a refusing rule without a path
    /// literal or a path condition), when nothing refuses what is not
    /// allowed (then `refusal_literals` answers), or when nothing is opened.
    pub fn opened_places(
        &self,
        tool: &str,
        project: Option<&str>,
    ) -> Option<(Vec<String>, Vec<crate::screen::Place>)> {
        use crate::screen::Place;
        let mut literals = Vec::new();
        // Each policy that refuses what it does not allow, and the default
        // when it refuses: the places it lets through.
        let mut bounds: Vec<Vec<Place>> = Vec::new();
        let mut opened_by_all_callers: Vec<Place> = Vec::new();
        let mut default_reachable = true;
        for p in self.policies.iter().filter(|p| p.admits_tool(tool)) {
            let whole_scope = p.agent.is_none() && p.session.is_none();
            let mut opened: Vec<Place> = Vec::new();
            for r in &p.rules {
                let refuses = !matches!(r.action, Action::Allow | Action::Watch);
                match &r.when {
                    When::Never => {}
                    When::Always if refuses => {
                        bounds.push(opened.clone());
                        break;
                    }
                    When::Always => {
                        // Every call this policy sees is allowed from here.
                        opened = vec![Place {
                            path: "/".to_string(),
                            under: true,
                        }];
                        default_reachable &= !whole_scope;
                        break;
                    }
                    When::Fields(f) if refuses => self.push_refusal_literals(f, &mut literals)?,
                    When::Fields(f) => {
                        if let Some(range) = f.path.as_ref().filter(|_| opens_by_path_alone(f)) {
                            for i in range.clone() {
                                if let Some(place) = place_of(self.paths.glob(i), project) {
                                    opened.push(place);
                                }
                            }
                        }
                    }
                }
            }
            if whole_scope {
                opened_by_all_callers.extend(opened);
            }
        }
        if default_reachable && !matches!(self.default_action, Action::Allow | Action::Watch) {
            bounds.push(opened_by_all_callers);
        }
        let mut places = bounds.into_iter().reduce(|a, b| {
            a.iter()
                .flat_map(|x| b.iter().filter_map(move |y| x.meet(y)))
                .collect()
        })?;
        if places.is_empty() {
            return None; // nothing is opened: every call asks
        }
        places.sort();
        places.dedup();
        literals.sort();
        literals.dedup();
        Some((literals, places))
    }

    /// Paths beneath the directory `dir` that a refusing rule names by
    /// where they are (an absolute pattern with a literal start, such as
    /// `~/.ssh/**`): moving `dir` (a rename of it or of the directory it is
    /// in) moves what that rule protects out of its reach. For each such
    /// pattern, its literal start and that start followed by a name, so
    /// that deciding a read and a write of each tells whether the rule
    /// refuses what lies there. A pattern that matches anywhere follows its
    /// files when a directory above them moves, but not when the directory
    /// moved is one of the names it spells (`**/.aws/credentials` and `mv
    /// ~/.aws ~/a2`): then what it names beneath `dir` is listed too
    /// (`~/.aws/credentials`; a wildcard in it spelled `x`). (A file moved
    /// itself is decided as a read where it was: `Op::tools`.)
    pub fn anchored_beneath(&self, dir: &str) -> Vec<String> {
        let dir = dir.trim_end_matches('/');
        let mut out = Vec::new();
        let base = dir.rsplit('/').next().unwrap_or(dir);
        for glob in self.refusing_path_globs(None) {
            if let Some(tail) = glob.as_str().strip_prefix("**/") {
                let names: Vec<&str> = tail.split('/').collect();
                let literal = |n: &str| !n.contains(['*', '?', '[', '{']);
                for (i, name) in names.iter().enumerate().take(names.len().saturating_sub(1)) {
                    if literal(name) && *name == base {
                        let rest: Vec<String> = names[i + 1..]
                            .iter()
                            .map(|n| {
                                if literal(n) {
                                    n.to_string()
                                } else {
                                    "x".into()
                                }
                            })
                            .collect();
                        out.push(format!("{dir}/{}", rest.join("/")));
                    }
                }
            }
            let Some(lit) = glob.start_literal() else {
                continue;
            };
            let beneath = lit.len() > dir.len()
                && lit.starts_with(dir)
                && (dir.is_empty() || lit.as_bytes()[dir.len()] == b'/');
            if beneath {
                out.push(lit.clone());
                out.push(format!(
                    "{lit}{}",
                    if lit.ends_with('/') { "x" } else { "/x" }
                ));
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// The path patterns of the rules that refuse calls of `tool` by name
    /// (a deny or ask rule with a path condition; not the default action),
    /// as what the files they refuse have in common: `Some(literals)` when
    /// every such pattern contains a literal (a file none of whose names
    /// contains one of them is refused by no such rule; an empty list: no
    /// such rule), `None` when one has none (`**`, or a `$PROJECT`
    /// pattern, spelled in a form absolute paths do not show); and the
    /// literal starts of those anchored at a directory.
    pub fn named_refusals(&self, tool: &str) -> (Option<Vec<String>>, Vec<String>) {
        let mut literals = Some(Vec::new());
        let mut starts = Vec::new();
        for glob in self.refusing_path_globs(Some(tool)) {
            let spelled = glob.as_str().starts_with(PROJECT_PREFIX)
                || glob.as_str().starts_with(PARENTS_PREFIX);
            match glob.required_literal().filter(|_| !spelled) {
                Some(l) => literals.iter_mut().for_each(|v| v.push(l.clone())),
                None => literals = None,
            }
            starts.extend(glob.start_literal());
        }
        for v in [literals.as_mut(), Some(&mut starts)].into_iter().flatten() {
            v.sort();
            v.dedup();
        }
        (literals, starts)
    }

    /// The path patterns of the rules that refuse (deny, ask) calls of
    /// `tool` (of any tool: `None`) by a path condition.
    fn refusing_path_globs<'a>(&'a self, tool: Option<&'a str>) -> impl Iterator<Item = &'a Glob> {
        self.policies
            .iter()
            .filter(move |p| tool.is_none_or(|t| p.admits_tool(t)))
            .flat_map(|p| &p.rules)
            .filter(|r| !matches!(r.action, Action::Allow | Action::Watch))
            .filter_map(|r| match &r.when {
                When::Fields(f) => f.path.clone(),
                _ => None,
            })
            .flatten()
            .map(|i| self.paths.glob(i))
    }

    /// Number of enabled policies.
    pub fn policy_count(&self) -> usize {
        self.policies.len()
    }

    /// The inline `tests:` of every source, with the source that holds them.
    pub fn inline_tests(&self) -> &[(PathBuf, TestCase)] {
        &self.tests
    }

    /// Runs every inline test (`tests:`) against this engine, as `rampart
    /// test` does in Go Rampart: the agent defaults to `test`, the
    /// parameters `command`, `path`, `url`, `domain` and `cwd` fill the
    /// request, and `expect_message` is a `filepath.Match` glob over the
    /// decision's message.
    pub fn run_inline_tests(&self) -> Vec<TestOutcome> {
        self.run_tests(&self.tests)
    }

    /// Runs `tests` (each with the file that holds it) against this
    /// engine, as [`Engine::run_inline_tests`] does: for a suite file
    /// (`rampart test SUITE.yaml`) whose tests live apart from the policy.
    pub fn run_tests(&self, tests: &[(PathBuf, TestCase)]) -> Vec<TestOutcome> {
        tests
            .iter()
            .map(|(file, case)| {
                let param = |name: &str| {
                    case.params
                        .iter()
                        .find(|(k, _)| k == name)
                        .map(|(_, v)| v.as_str())
                };
                let req = Request {
                    tool: &case.tool,
                    agent: case.agent.as_deref().unwrap_or("test"),
                    session: case.session.as_deref().unwrap_or(""),
                    command: param("command"),
                    path: param("path").or_else(|| param("file_path")),
                    url: param("url"),
                    domain: param("domain"),
                    cwd: param("cwd").or_else(|| param("workdir")),
                    project: param("project"),
                };
                let decision = self.evaluate(&req);
                let message_ok = case
                    .expect_message
                    .as_ref()
                    .is_none_or(|pattern| file_match_str(pattern, &decision.message));
                TestOutcome {
                    file: file.clone(),
                    line: case.line,
                    name: case.name.clone(),
                    passed: decision.action == case.expect && message_ok,
                    expected: case.expect,
                    decision,
                }
            })
            .collect()
    }

    /// A command run from the project spelled with `$PROJECT`, when the
    /// policy has such patterns (see [`project_command`]).
    fn project_spelling(&self, req: &Request) -> Option<String> {
        req.command
            .filter(|_| self.project_commands)
            .and_then(|c| project_command(c, req.project))
    }

    /// How the engine decides `req`: every policy that applies to its
    /// tool, in evaluation order, whether its scope (agent, session) admits
    /// the caller, each of its rules that matches (the first one is the
    /// policy's answer), and the decision [`Engine::evaluate`] gives, with
    /// the policy that gave it. For `rampart explain`: it never changes a
    /// verdict.
    pub fn explain(&self, req: &Request) -> Explanation {
        let decision = self.evaluate(req);
        let spelled = self.project_spelling(req);
        let req = &Request {
            command: spelled.as_deref().or(req.command),
            ..*req
        };
        let mut scratch = Scratch::new(self, req);
        let mut policies = Vec::new();
        for policy in self.policies.iter().filter(|p| p.admits_tool(req.tool)) {
            let in_scope = policy.admits_caller(req);
            let matched = if in_scope {
                policy
                    .rules
                    .iter()
                    .filter(|r| scratch.matches(&r.when, r.restrictive))
                    .map(|r| RuleTrace {
                        line: r.line,
                        action: r.action,
                        message: r.message.clone(),
                        catch_all: matches!(r.when, When::Always),
                    })
                    .collect()
            } else {
                Vec::new()
            };
            policies.push(PolicyTrace {
                name: policy.name.clone(),
                file: policy.file.clone(),
                line: policy.line,
                in_scope,
                matched,
            });
        }
        // The policy whose answer is the decision: the first that fired
        // with the decided action (a deny stops evaluation at once).
        let decided_by = policies.iter().position(|p| {
            decision.matched_policies.contains(&p.name)
                && p.matched
                    .first()
                    .is_some_and(|r| r.action == decision.action)
        });
        Explanation {
            decision,
            default_action: self.default_action,
            policies,
            decided_by,
        }
    }

    /// Decides one call.
    pub fn evaluate(&self, req: &Request) -> Decision {
        let spelled = self.project_spelling(req);
        let req = &Request {
            command: spelled.as_deref().or(req.command),
            ..*req
        };
        let candidates: Cow<'_, [usize]> = match self.by_tool.iter().find(|(t, _)| *t == req.tool) {
            Some((_, list)) => Cow::Borrowed(list),
            None => Cow::Owned(
                self.policies
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| p.admits_tool(req.tool))
                    .map(|(i, _)| i)
                    .collect(),
            ),
        };
        let mut scratch = Scratch::new(self, req);
        let mut in_scope = false;
        let mut fired: Vec<&str> = Vec::new();
        let mut best: Option<(Action, &str)> = None;
        for &pi in candidates.iter() {
            let policy = &self.policies[pi];
            if !policy.admits_caller(req) {
                continue;
            }
            in_scope = true;
            let Some(rule) = policy
                .rules
                .iter()
                .find(|r| scratch.matches(&r.when, r.restrictive))
            else {
                continue;
            };
            fired.push(&policy.name);
            let message = rule.message.as_str();
            match rule.action {
                Action::Deny => {
                    let mut d = decision(Action::Deny, &fired, message);
                    d.catch_all = matches!(rule.when, When::Always);
                    return d;
                }
                Action::Ask => {
                    if !matches!(best, Some((Action::Ask, _))) {
                        best = Some((Action::Ask, message));
                    }
                }
                Action::Watch => {
                    if matches!(best, None | Some((Action::Allow, _))) {
                        best = Some((Action::Watch, message));
                    }
                }
                Action::Allow => match best {
                    None => best = Some((Action::Allow, message)),
                    Some((Action::Allow, "")) => best = Some((Action::Allow, message)),
                    _ => {}
                },
            }
        }
        match best {
            Some((action, message)) => decision(action, &fired, message),
            None if in_scope => Decision {
                action: self.default_action,
                catch_all: true,
                matched_policies: Vec::new(),
                message: "no matching rule; using default action".to_string(),
            },
            None => Decision {
                action: self.default_action,
                catch_all: true,
                matched_policies: Vec::new(),
                message: "no matching policy; using default action".to_string(),
            },
        }
    }

    /// Decides a call that touches several paths, one request per path
    /// (a rename's two ends; a link's source as a write and a read, and its
    /// new name): each is decided alone, and a deny of any denies the call
    /// at once. Otherwise the strictest verdict decides (ask, then watch,
    /// then allow), with the message of the first request that gave it
    /// (preferring one a rule gave over the default's), and
    /// `matched_policies` lists each policy that fired for any request,
    /// once, in order. One request is [`Engine::evaluate`]; none is the
    /// default action.
    pub fn evaluate_all(&self, reqs: &[Request]) -> Decision {
        if let [one] = reqs {
            return self.evaluate(one);
        }
        let rank = |a: Action| match a {
            Action::Allow => 0,
            Action::Watch => 1,
            Action::Ask => 2,
            Action::Deny => 3,
        };
        let mut best: Option<Decision> = None;
        let mut fired: Vec<String> = Vec::new();
        for req in reqs {
            let d = self.evaluate(req);
            if d.action == Action::Deny {
                return d;
            }
            for p in &d.matched_policies {
                if !fired.contains(p) {
                    fired.push(p.clone());
                }
            }
            let better = match &best {
                None => true,
                Some(b) => {
                    rank(d.action) > rank(b.action)
                        || (d.action == b.action
                            && b.matched_policies.is_empty()
                            && !d.matched_policies.is_empty())
                }
            };
            if better {
                best = Some(d);
            }
        }
        match best {
            Some(mut d) => {
                d.matched_policies = fired;
                d
            }
            None => Decision {
                action: self.default_action,
                catch_all: true,
                matched_policies: Vec::new(),
                message: "no matching policy; using default action".to_string(),
            },
        }
    }
}

/// The result of one inline test.
/// [`Engine::explain`]'s answer.
#[derive(Clone, Debug)]
pub struct Explanation {
    pub decision: Decision,
    /// What decides when no rule does.
    pub default_action: Action,
    /// Every policy for the call's tool, in evaluation order.
    pub policies: Vec<PolicyTrace>,
    /// Index into `policies` of the one whose rule decided; `None` when the
    /// default action did.
    pub decided_by: Option<usize>,
}

/// One policy, as [`Engine::explain`] saw it.
#[derive(Clone, Debug)]
pub struct PolicyTrace {
    pub name: String,
    pub file: PathBuf,
    /// The line of the policy's `name`.
    pub line: usize,
    /// Whether its `match.agent`/`match.session` admit the caller.
    pub in_scope: bool,
    /// Its rules that match the call, in order: the first is its answer.
    pub matched: Vec<RuleTrace>,
}

/// A rule that matched.
#[derive(Clone, Debug)]
pub struct RuleTrace {
    /// The line where the rule starts.
    pub line: usize,
    pub action: Action,
    pub message: String,
    /// It matches every call (`default: true`, or no `when`): the rest of
    /// its policy's tool, as a generated policy ends each tool.
    pub catch_all: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestOutcome {
    pub file: PathBuf,
    pub line: usize,
    pub name: String,
    pub expected: Action,
    pub decision: Decision,
    pub passed: bool,
}

fn decision(action: Action, fired: &[&str], message: &str) -> Decision {
    Decision {
        action,
        catch_all: false,
        matched_policies: fired.iter().map(|s| s.to_string()).collect(),
        message: message.to_string(),
    }
}

#[allow(clippy::too_many_arguments)]
fn compile_condition(
    f: &std::path::Path,
    c: &ConditionDef,
    restrictive: bool,
    commands: &mut SetBuilder,
    paths: &mut SetBuilder,
    contains: &mut Contains,
    same: &dyn Fn(&str) -> String,
    expand: &dyn Fn(&str) -> String,
    errors: &mut Vec<LoadError>,
) -> When {
    if c.default.as_ref().is_some_and(|d| d.value) || c.is_empty() {
        return When::Always;
    }
    // Neither a tool's parameters nor a call counter exist for a syscall:
    // these conditions fail, and with them the whole `when`.
    if !c.tool_param_matches.is_empty() || c.call_count.is_some() {
        return When::Never;
    }
    let mut fields = Fields::default();
    if !c.command_matches.is_empty() || !c.command_contains.is_empty() {
        let slot = contains.next_slot;
        contains.next_slot += 1;
        let globs = commands.add(f, &c.command_matches, same, errors);
        for i in globs.clone() {
            commands.slots[i] = slot;
        }
        for item in &c.command_contains {
            contains.entries.push(item.value.clone());
            contains.slots.push(slot);
        }
        contains.info.push(SlotInfo {
            restrictive,
            globs,
            contains: if restrictive {
                Vec::new()
            } else {
                c.command_contains.iter().map(|i| i.value.clone()).collect()
            },
        });
        fields.command = Some(slot);
    }
    fields.command_not = commands.add(f, &c.command_not_matches, same, errors);
    if !c.command_env_assignments.is_empty() {
        fields.env = Some(compile_list(
            f,
            &c.command_env_assignments,
            GlobKind::Text,
            false,
            errors,
        ));
    }
    if !c.path_matches.is_empty() {
        fields.path = Some(paths.add(f, &c.path_matches, expand, errors));
    }
    fields.path_not = paths.add(f, &c.path_not_matches, expand, errors);
    if !c.url_matches.is_empty() {
        fields.url = Some(compile_list(
            f,
            &c.url_matches,
            GlobKind::Text,
            false,
            errors,
        ));
    }
    if !c.domain_matches.is_empty() {
        let globs = compile_list(f, &c.domain_matches, GlobKind::Domain, false, errors);
        let (exact, wild): (Vec<Glob>, Vec<Glob>) =
            globs.into_iter().partition(|g| g.literal().is_some());
        fields.domain = Some(DomainSet {
            exact: exact
                .iter()
                .filter_map(|g| g.literal().map(str::to_string))
                .collect(),
            wild,
        });
    }
    if let Some(d) = &c.agent_depth {
        fields.depth = Some((d.gte, d.lte, d.eq));
    }
    if !c.session_matches.is_empty() {
        fields.session = Some(compile_list(
            f,
            &c.session_matches,
            GlobKind::Text,
            false,
            errors,
        ));
    }
    fields.session_not = compile_list(f, &c.session_not_matches, GlobKind::Text, false, errors);
    let positive = fields.command.is_some()
        || fields.env.is_some()
        || fields.path.is_some()
        || fields.url.is_some()
        || fields.domain.is_some()
        || fields.depth.is_some()
        || fields.session.is_some();
    if !positive {
        // Only exclusions (or response conditions): Go Rampart's matcher
        // never reports such a condition as matched.
        return When::Never;
    }
    When::Fields(Box::new(fields))
}

impl CompiledPolicy {
    fn admits_tool(&self, tool: &str) -> bool {
        self.tools.is_empty() || self.tools.iter().any(|g| g.is_match(tool))
    }

    fn admits_caller(&self, req: &Request) -> bool {
        self.agent.as_ref().is_none_or(|g| g.is_match(req.agent))
            && self
                .session
                .as_ref()
                .is_none_or(|g| g.is_match(req.session))
    }
}

/// What one evaluation has already worked out about its request.
struct Scratch<'e, 'r> {
    engine: &'e Engine,
    req: &'r Request<'r>,
    /// The shell reading of the command ([`shell::analyze`]).
    analysis: Option<Analysis>,
    /// The command globs that match the command as written.
    raw_bits: Option<Bits>,
    /// The command slots that deny and ask rules see as matched: any
    /// spelling or component matched a glob, or the command holds a
    /// `command_contains` entry (ignoring case).
    restrictive_hits: Option<Bits>,
    /// The command slots that allow and watch rules see as matched: every
    /// component is covered, or a whole-command pattern matched.
    grant_hits: Option<Bits>,
    /// The command globs that match the command as written or normalised.
    whole_bits: Option<Bits>,
    /// What each component matches.
    components: Option<Vec<ComponentBits>>,
    paths: Option<Option<Bits>>,
}

/// What one component of a command matches.
struct ComponentBits {
    /// Command globs matching its normalised words (or its text, when that
    /// differs only by quoting).
    spell: Bits,
    /// Command globs matching its restrictive-only forms.
    alias: Bits,
    /// Command slots with a `command_contains` entry it holds (ignoring
    /// case).
    contains: Bits,
    /// Granting slots with a `command_contains` entry its normalised words
    /// hold (case-sensitive, as Go Rampart grants).
    grant_contains: Bits,
}

impl<'e, 'r> Scratch<'e, 'r> {
    /// Nothing worked out yet for `req`.
    fn new(engine: &'e Engine, req: &'r Request<'r>) -> Self {
        Scratch {
            engine,
            req,
            analysis: None,
            raw_bits: None,
            restrictive_hits: None,
            grant_hits: None,
            whole_bits: None,
            components: None,
            paths: None,
        }
    }
}

impl<'r> Scratch<'_, 'r> {
    fn command_text(&self) -> Option<&str> {
        self.req.command.filter(|c| !c.is_empty())
    }

    fn command(&self) -> &'r str {
        self.req.command.unwrap_or_default()
    }

    fn analysis(&mut self) -> &Analysis {
        let cmd = self.req.command.unwrap_or_default();
        self.analysis.get_or_insert_with(|| shell::analyze(cmd))
    }

    fn glob_bits(&self, inputs: &[&str]) -> Bits {
        let mut bits = Bits::new(self.engine.commands.len());
        for input in inputs {
            self.engine.commands.matches_into(input, &mut bits);
        }
        bits
    }

    fn raw_bits(&mut self) -> &Bits {
        if self.raw_bits.is_none() {
            self.raw_bits = Some(self.glob_bits(&[self.command()]));
        }
        self.raw_bits.as_ref().expect("computed above")
    }

    /// Sets in `hits` the slot of every glob in `bits`.
    fn mark_slots(engine: &Engine, bits: &Bits, hits: &mut Bits) {
        for i in bits.ones() {
            let slot = engine.glob_slot[i];
            if slot != NO_SLOT {
                hits.set(slot as usize);
            }
        }
    }

    fn restrictive_hits(&mut self) -> &Bits {
        if self.restrictive_hits.is_none() {
            let engine = self.engine;
            self.analysis();
            self.raw_bits();
            let a = self.analysis.as_ref().expect("computed above");
            let mut hits = Bits::new(engine.command_slots);
            Self::mark_slots(engine, self.raw_bits.as_ref().expect("computed"), &mut hits);
            if !a.forms.is_empty() {
                let forms: Vec<&str> = a.forms.iter().map(String::as_str).collect();
                Self::mark_slots(engine, &self.glob_bits(&forms), &mut hits);
            }
            let mut found = Bits::new(engine.contains.len());
            engine.contains.matches_into(self.command(), &mut found);
            for i in found.ones() {
                hits.set(engine.contains_slot[i] as usize);
            }
            if !a.complete {
                // Nesting too deep to see every command: fail closed.
                for (slot, info) in engine.slots.iter().enumerate() {
                    if info.restrictive && !info.globs.is_empty() {
                        hits.set(slot);
                    }
                }
            }
            self.restrictive_hits = Some(hits);
        }
        self.restrictive_hits.as_ref().expect("computed above")
    }

    fn whole_bits(&mut self) -> &Bits {
        if self.whole_bits.is_none() {
            let cmd = self.command();
            self.raw_bits();
            self.analysis();
            let a = self.analysis.as_ref().expect("computed above");
            let normalized = a.normalized(cmd);
            let engine = self.engine;
            let mut bits = self.raw_bits.clone().expect("computed above");
            if normalized != cmd {
                engine.commands.matches_into(normalized, &mut bits);
            }
            self.whole_bits = Some(bits);
        }
        self.whole_bits.as_ref().expect("computed above")
    }

    fn components(&mut self) -> &[ComponentBits] {
        if self.components.is_none() {
            let engine = self.engine;
            let cmd = self.command();
            self.analysis();
            self.raw_bits();
            let a = self.analysis.as_ref().expect("computed above");
            let simple = a.is_simple();
            let raw_bits = self.raw_bits.as_ref().expect("computed above");
            let list = a
                .components(cmd)
                .map(|c| {
                    let spell =
                        if simple || (c.normalized == cmd && (!c.same_words || c.text == cmd)) {
                            raw_bits.clone()
                        } else if c.same_words && c.text != c.normalized {
                            self.glob_bits(&[c.normalized, c.text])
                        } else {
                            self.glob_bits(&[c.normalized])
                        };
                    let aliases: Vec<&str> = c.aliases.iter().map(String::as_str).collect();
                    let alias = self.glob_bits(&aliases);
                    let mut found = Bits::new(engine.contains.len());
                    engine.contains.matches_into(c.normalized, &mut found);
                    if c.text != c.normalized {
                        engine.contains.matches_into(c.text, &mut found);
                    }
                    let mut contains = Bits::new(engine.command_slots);
                    for i in found.ones() {
                        contains.set(engine.contains_slot[i] as usize);
                    }
                    let mut grant_contains = Bits::new(engine.command_slots);
                    for &slot in &engine.grant_contains_slots {
                        let entries = &engine.slots[slot].contains;
                        if entries.iter().any(|e| c.normalized.contains(e.as_str())) {
                            grant_contains.set(slot);
                        }
                    }
                    ComponentBits {
                        spell,
                        alias,
                        contains,
                        grant_contains,
                    }
                })
                .collect();
            self.components = Some(list);
        }
        self.components.as_deref().expect("computed above")
    }

    fn grant_hits(&mut self) -> &Bits {
        if self.grant_hits.is_none() {
            let engine = self.engine;
            let mut hits = Bits::new(engine.command_slots);
            // A composite pattern, or one without `*`, may match the whole
            // command as written or normalised.
            for i in self.whole_bits().ones() {
                let slot = engine.glob_slot[i];
                if slot != NO_SLOT && engine.glob_whole[i] {
                    hits.set(slot as usize);
                }
            }
            let simple = self.analysis().is_simple();
            if simple {
                // The command is its only component, spelled as written.
                let cmd = self.command();
                Self::mark_slots(engine, self.raw_bits(), &mut hits);
                for &slot in &engine.grant_contains_slots {
                    if engine.slots[slot]
                        .contains
                        .iter()
                        .any(|e| cmd.contains(e.as_str()))
                    {
                        hits.set(slot);
                    }
                }
            } else if self.analysis().complete {
                // Otherwise every component must be covered by the slot.
                let comps = self.components();
                let mut covered = vec![0usize; engine.command_slots];
                for c in comps {
                    let mut mine = Bits::new(engine.command_slots);
                    Self::mark_slots(engine, &c.spell, &mut mine);
                    for slot in mine.ones().chain(c.grant_contains.ones()) {
                        covered[slot] += 1;
                    }
                    // A slot hit by both a glob and a substring counts once.
                    for slot in mine.ones() {
                        if c.grant_contains.get(slot) {
                            covered[slot] -= 1;
                        }
                    }
                }
                if !comps.is_empty() {
                    for (slot, n) in covered.iter().enumerate() {
                        if *n == comps.len() {
                            hits.set(slot);
                        }
                    }
                }
            }
            self.grant_hits = Some(hits);
        }
        self.grant_hits.as_ref().expect("computed above")
    }

    /// Whether a deny or ask rule whose command condition matched keeps
    /// matching after its `command_not_matches` (Go Rampart's
    /// component-scoped exclusions): some component that matches the rule
    /// is not excluded, or the match belongs to no single component.
    fn restrictive_survives(&mut self, slot: u32, not: &Range<usize>) -> bool {
        if !self.analysis().complete {
            return true;
        }
        let a = self.analysis();
        if !a.composite && a.forms.is_empty() {
            // One component, spelled only as written: it matched, so only
            // an exclusion of that spelling lifts the rule.
            return !self.raw_bits().any_in(not.clone());
        }
        let globs = self.engine.slots[slot as usize].globs.clone();
        let single = !self.analysis().composite;
        let whole = single.then(|| self.whole_bits().clone());
        let comps = self.components();
        let mut matched = false;
        for c in comps {
            let in_whole = |r: &Range<usize>| whole.as_ref().is_some_and(|w| w.any_in(r.clone()));
            let positive = c.spell.any_in(globs.clone())
                || c.alias.any_in(globs.clone())
                || in_whole(&globs)
                || c.contains.get(slot as usize);
            if !positive {
                continue;
            }
            matched = true;
            if !c.spell.any_in(not.clone()) && !in_whole(not) {
                return true;
            }
        }
        !matched
    }

    /// Whether an allow or watch rule's `command_not_matches` excludes the
    /// command: as written, normalised or any component.
    fn grant_excluded(&mut self, not: &Range<usize>) -> bool {
        if self.whole_bits().any_in(not.clone()) {
            return true;
        }
        self.components()
            .iter()
            .any(|c| c.spell.any_in(not.clone()))
    }

    fn path_bits(&mut self) -> Option<&Bits> {
        if self.paths.is_none() {
            let bits = self.req.path.filter(|p| !p.is_empty()).map(|path| {
                let mut bits = Bits::new(self.engine.paths.len());
                let (absolute, relative) = path_forms(path, self.req.cwd);
                self.engine.paths.matches_into(&absolute, &mut bits);
                if let Some(rel) = relative {
                    self.engine.paths.matches_into(&rel, &mut bits);
                }
                let project = self.req.project.filter(|_| self.engine.project_paths);
                if let Some(spelled) = project_form(&absolute, project) {
                    self.engine.paths.matches_into(&spelled, &mut bits);
                }
                if let Some(spelled) = parents_form(&absolute, project) {
                    self.engine.paths.matches_into(&spelled, &mut bits);
                }
                bits
            });
            self.paths = Some(bits);
        }
        self.paths.as_ref().and_then(|b| b.as_ref())
    }

    fn matches(&mut self, when: &When, restrictive: bool) -> bool {
        let f = match when {
            When::Always => return true,
            When::Never => return false,
            When::Fields(f) => f,
        };
        if f.command.is_some() || f.env.is_some() {
            if self.command_text().is_none() {
                return false;
            }
            if let Some(slot) = f.command {
                let hit = if restrictive {
                    self.restrictive_hits().get(slot as usize)
                } else {
                    self.grant_hits().get(slot as usize)
                };
                if !hit {
                    return false;
                }
            }
            if let Some(env) = &f.env {
                let names = &self.analysis().env_names;
                if !names.iter().any(|n| env.iter().any(|g| g.is_match(n))) {
                    return false;
                }
            }
            if !f.command_not.is_empty() {
                let excluded = match f.command {
                    Some(slot) if restrictive => !self.restrictive_survives(slot, &f.command_not),
                    Some(_) => self.grant_excluded(&f.command_not),
                    None => self.whole_bits().any_in(f.command_not.clone()),
                };
                if excluded {
                    return false;
                }
            }
        }
        if let Some(range) = &f.path {
            let Some(bits) = self.path_bits() else {
                return false;
            };
            if !bits.any_in(range.clone()) || bits.any_in(f.path_not.clone()) {
                return false;
            }
        }
        if let Some(url) = &f.url {
            match self.req.url.filter(|u| !u.is_empty()) {
                Some(u) if url.iter().any(|g| g.is_match(u)) => {}
                _ => return false,
            }
        }
        if let Some(domain) = &f.domain {
            let d = self
                .req
                .domain
                .filter(|d| !d.trim().is_empty())
                .or_else(|| self.req.url.and_then(url_host));
            let d = d.map(normalize_domain).filter(|d| !d.is_empty());
            match d {
                Some(d)
                    if domain.exact.contains(d.as_ref())
                        || domain.wild.iter().any(|g| g.is_match_domain(&d)) => {}
                _ => return false,
            }
        }
        if let Some((gte, lte, eq)) = f.depth {
            // Everything `rampart run` watches is the top-level agent.
            let depth = 0;
            if gte.is_some_and(|g| depth < g)
                || lte.is_some_and(|l| depth > l)
                || eq.is_some_and(|e| depth != e)
            {
                return false;
            }
        }
        if let Some(session) = &f.session {
            if !session.iter().any(|g| g.is_match(self.req.session)) {
                return false;
            }
        }
        if f.session_not.iter().any(|g| g.is_match(self.req.session)) {
            return false;
        }
        true
    }
}

/// Names assigned by `NAME=value` words in front of a command, after an
/// `env` word (its options skipped) or by `export` and its kin, in any
/// command the line runs, as `command_env_assignments` sees them.
pub fn env_assignment_names(command: &str) -> Vec<String> {
    shell::analyze(command).env_names
}

/// The host of a `scheme://host:port/...` URL (brackets of IPv6 removed).
fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit('@').next()?;
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        authority.split(':').next()?
    };
    (!host.is_empty()).then_some(host)
}

/// Go's `filepath.Clean` ([`crate::path::clean`]) after reading `\` as
/// `/`, as paths are decided.
pub fn clean_path(path: &str) -> Cow<'_, str> {
    if path.contains('\\') {
        return Cow::Owned(crate::path::clean(&path.replace('\\', "/")).into_owned());
    }
    crate::path::clean(path)
}

/// Whether an allow rule's `when` is a path condition alone: then every
/// open whose path matches it is allowed by it, whoever calls.
fn opens_by_path_alone(f: &Fields) -> bool {
    f.path.is_some()
        && f.path_not.is_empty()
        && f.command.is_none()
        && f.command_not.is_empty()
        && f.env.is_none()
        && f.url.is_none()
        && f.domain.is_none()
        && f.depth.is_none()
        && f.session.is_none()
        && f.session_not.is_empty()
}

/// The place a path pattern opens whole ([`Glob::path_place`]), with
/// `$PROJECT` read as `project` (what [`project_form`] matches); `None` for
/// any other pattern, a `$PARENTS` one, or one that is not absolute and
/// clean.
fn place_of(glob: &Glob, project: Option<&str>) -> Option<crate::screen::Place> {
    let (place, under) = glob.path_place()?;
    let path = if let Some(rest) = place.strip_prefix(PROJECT_PREFIX) {
        let root = clean_path(project.filter(|p| p.starts_with('/'))?);
        match (root.as_ref(), rest) {
            (root, "") => root.to_string(),
            ("/", rest) if rest.starts_with('/') => rest.to_string(),
            (root, rest) if rest.starts_with('/') => format!("{root}{rest}"),
            _ => return None,
        }
    } else if place.starts_with(PARENTS_PREFIX) {
        return None;
    } else {
        place
    };
    (path.starts_with('/') && crate::path::is_clean(path.as_bytes()))
        .then_some(crate::screen::Place { path, under })
}

/// The spelling of an absolute path inside `project` that `$PROJECT`
/// patterns match: [`PROJECT_PREFIX`] and the rest of the path.
pub fn project_form(absolute: &str, project: Option<&str>) -> Option<String> {
    let root = clean_path(project.filter(|p| p.starts_with('/'))?);
    if !absolute.starts_with('/') {
        return None;
    }
    if root == "/" {
        return Some(format!("{PROJECT_PREFIX}{absolute}"));
    }
    let rest = absolute.strip_prefix(root.as_ref())?;
    (rest.is_empty() || rest.starts_with('/')).then(|| format!("{PROJECT_PREFIX}{rest}"))
}

/// A command whose program is the project's (its first word an absolute
/// path inside `project`, as the recorder writes a program run by a
/// relative path: `make` running `build/tool`) spelled with
/// [`PROJECT_PREFIX`] for that part, so that `$PROJECT/build/tool *` names
/// it in any checkout; else one whose second word is (an interpreter
/// running one of the project's scripts by its absolute path, as
/// `node --test` runs each test file: `/usr/bin/node
/// $PROJECT/test/*`). Decisions are taken on that spelling.
pub fn project_command(command: &str, project: Option<&str>) -> Option<String> {
    let (first, rest) = match command.split_once(' ') {
        Some((f, r)) => (f, Some(r)),
        None => (command, None),
    };
    let spelled = |word: &str| {
        if !word.starts_with('/') || word.contains(['\'', '"', '\\', '$']) {
            return None;
        }
        project_form(&clean_path(word), project)
    };
    if let Some(program) = spelled(first) {
        return Some(match rest {
            Some(r) => format!("{program} {r}"),
            None => program,
        });
    }
    let (second, after) = match rest?.split_once(' ') {
        Some((s, a)) => (s, Some(a)),
        None => (rest?, None),
    };
    let script = spelled(second)?;
    Some(match after {
        Some(a) => format!("{first} {script} {a}"),
        None => format!("{first} {script}"),
    })
}

/// The spelling of an absolute path directly inside a strict ancestor of
/// `project` that `$PARENTS/` patterns match: [`PARENTS_PREFIX`], `/`,
/// its name.
pub fn parents_form(absolute: &str, project: Option<&str>) -> Option<String> {
    let root = clean_path(project.filter(|p| p.starts_with('/'))?);
    let (dir, name) = absolute.rsplit_once('/')?;
    if name.is_empty() || !absolute.starts_with('/') {
        return None;
    }
    let above = if dir.is_empty() {
        root != "/"
    } else {
        root.len() > dir.len() && root.starts_with(dir) && root.as_bytes()[dir.len()] == b'/'
    };
    above.then(|| format!("{PARENTS_PREFIX}/{name}"))
}

/// The absolute spelling of a path (joined to `cwd` when relative, cleaned)
/// and, when there is one, its spelling relative to `cwd`.
fn path_forms<'p>(path: &'p str, cwd: Option<&str>) -> (Cow<'p, str>, Option<Cow<'p, str>>) {
    if path.starts_with('@') {
        // An abstract unix socket: a name, not a file system path.
        return (Cow::Borrowed(path), None);
    }
    let relative_input = !path.starts_with('/') && !path.starts_with('\\');
    let cwd = cwd.filter(|c| c.starts_with('/'));
    let absolute: Cow<'p, str> = match (relative_input, cwd) {
        (true, Some(cwd)) => Cow::Owned(clean_path(&format!("{cwd}/{path}")).into_owned()),
        _ => clean_path(path),
    };
    let relative = if relative_input {
        // Without a working directory the path can only be matched as
        // written; it is then the absolute form's only spelling.
        cwd.map(|_| clean_path(path))
    } else {
        cwd.and_then(|cwd| {
            let cwd = clean_path(cwd);
            let rest = if cwd == "/" {
                absolute.strip_prefix('/')
            } else {
                absolute
                    .strip_prefix(cwd.as_ref())
                    .and_then(|r| r.strip_prefix('/'))
            };
            rest.filter(|r| !r.is_empty())
                .map(|r| Cow::Owned(r.to_string()))
        })
    };
    (absolute, relative)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_clean_like_go() {
        for (input, want) in [
            ("/etc/../etc/shadow", "/etc/shadow"),
            ("/home/user/./file", "/home/user/file"),
            ("/a/b/../c/d", "/a/c/d"),
            ("/../x", "/x"),
            ("a//b/", "a/b"),
            ("../x/../../y", "../../y"),
            ("", "."),
            ("/", "/"),
            ("/clean/path", "/clean/path"),
            ("/home/user\\..\\etc/shadow", "/home/etc/shadow"),
        ] {
            assert_eq!(clean_path(input), want, "{input:?}");
        }
    }

    #[test]
    fn path_forms_join_cwd_and_spell_relative() {
        let (abs, rel) = path_forms("src/../.env", Some("/home/u/p"));
        assert_eq!(abs, "/home/u/p/.env");
        assert_eq!(rel.as_deref(), Some(".env"));
        let (abs, rel) = path_forms("/home/u/p/a/b", Some("/home/u/p/"));
        assert_eq!(abs, "/home/u/p/a/b");
        assert_eq!(rel.as_deref(), Some("a/b"));
        let (abs, rel) = path_forms("/etc/passwd", Some("/home/u/p"));
        assert_eq!(abs, "/etc/passwd");
        assert_eq!(rel, None);
        let (abs, rel) = path_forms("@/tmp/.X11-unix/X0", Some("/home/u/p"));
        assert_eq!(abs, "@/tmp/.X11-unix/X0");
        assert_eq!(rel, None);
    }

    #[test]
    fn env_names_come_from_leading_assignments_and_env() {
        assert_eq!(
            env_assignment_names("LD_PRELOAD=/x.so FOO=1 ls -l"),
            vec!["LD_PRELOAD", "FOO"]
        );
        assert_eq!(
            env_assignment_names("/usr/bin/env -i PYTHONSTARTUP=x python3"),
            vec!["PYTHONSTARTUP"]
        );
        assert!(env_assignment_names("echo A=B").is_empty());
    }

    #[test]
    fn url_hosts() {
        assert_eq!(url_host("tcp://example.com:443"), Some("example.com"));
        assert_eq!(url_host("udp://[::1]:53"), Some("::1"));
        assert_eq!(url_host("https://u@h.io/x"), Some("h.io"));
    }

    #[test]
    fn home_expands_only_at_the_start() {
        let h = Some("/home/u");
        assert_eq!(expand_home("~/.ssh/**", h), "/home/u/.ssh/**");
        assert_eq!(expand_home("$HOME/.aws/*", h), "/home/u/.aws/*");
        assert_eq!(expand_home("~", h), "/home/u");
        assert_eq!(expand_home("~bob/x", h), "~bob/x");
        assert_eq!(expand_home("**/~/x", h), "**/~/x");
        assert_eq!(expand_home("~/x", None), "~/x");
        assert_eq!(expand_home("$PROJECT/src/**", h), "//$PROJECT/src/**");
        assert_eq!(expand_home("${PROJECT}", None), "//$PROJECT");
        assert_eq!(expand_home("$PROJECTS/x", h), "$PROJECTS/x");
    }

    #[test]
    fn project_form_only_inside_the_root() {
        let p = Some("/w/proj");
        assert_eq!(
            project_form("/w/proj/src/a.py", p).unwrap(),
            "//$PROJECT/src/a.py"
        );
        assert_eq!(project_form("/w/proj", p).unwrap(), "//$PROJECT");
        assert_eq!(project_form("/w/project/a", p), None);
        assert_eq!(project_form("/w/proj/a", None), None);
        assert_eq!(project_form("/w/proj/a", Some("rel")), None);
        assert_eq!(project_form("/a", Some("/")).unwrap(), "//$PROJECT/a");
    }

    #[test]
    fn the_projects_programs_are_named_by_project_patterns() {
        let yaml = r#"
version: "1"
default_action: deny
policies:
  - name: p
    match: {tool: [exec]}
    rules:
      - action: allow
        when:
          command_matches: ["$PROJECT/build/tool *", "make *"]
"#;
        let e = Engine::from_texts(&[(PathBuf::from("p.yaml"), yaml.into())]).unwrap();
        let run = |cmd, project| {
            e.evaluate(&Request {
                tool: "exec",
                command: Some(cmd),
                project,
                ..Request::default()
            })
            .action
        };
        assert_eq!(run("/w/a/build/tool x", Some("/w/a")), Action::Allow);
        assert_eq!(run("/w/b/build/tool y z", Some("/w/b")), Action::Allow);
        assert_eq!(run("/w/b/build/tool y", Some("/w/a")), Action::Deny);
        assert_eq!(run("/w/a/build/tool x", None), Action::Deny);
        assert_eq!(run("$PROJECT/build/tool x", Some("/w/a")), Action::Deny);
        assert_eq!(run("make all", Some("/w/a")), Action::Allow);
        assert_eq!(
            project_command("/w/a/b/../t -x", Some("/w/a")).unwrap(),
            "//$PROJECT/t -x"
        );
        assert_eq!(project_command("'/w/a/t' -x", Some("/w/a")), None);
        // An interpreter running one of the project's scripts.
        assert_eq!(
            project_command("/usr/bin/node /w/a/test/x.test.js --y", Some("/w/a")).unwrap(),
            "/usr/bin/node //$PROJECT/test/x.test.js --y"
        );
        assert_eq!(
            project_command("/usr/bin/node /w/b/x.js", Some("/w/a")),
            None
        );
    }

    #[test]
    fn parents_form_only_directly_above_the_root() {
        let p = Some("/w/a/proj");
        assert_eq!(
            parents_form("/w/a/AGENTS.md", p).unwrap(),
            "//$PARENTS/AGENTS.md"
        );
        assert_eq!(
            parents_form("/AGENTS.md", p).unwrap(),
            "//$PARENTS/AGENTS.md"
        );
        assert_eq!(parents_form("/w/a/proj/AGENTS.md", p), None);
        assert_eq!(parents_form("/w/a/other/AGENTS.md", p), None);
        assert_eq!(parents_form("/w/ab/AGENTS.md", p), None);
        assert_eq!(parents_form("/AGENTS.md", Some("/")), None);
    }

    #[test]
    fn project_patterns_match_inside_the_calls_project_only() {
        let yaml = r#"
version: "1"
default_action: deny
policies:
  - name: p
    match: {tool: [read]}
    rules:
      - action: allow
        when: {path_matches: ["$PROJECT/src/**"]}
"#;
        let e = Engine::from_texts(&[(PathBuf::from("p.yaml"), yaml.into())]).unwrap();
        let read = |path, project| {
            e.evaluate(&Request {
                tool: "read",
                path: Some(path),
                project,
                cwd: Some("/"),
                ..Request::default()
            })
            .action
        };
        assert_eq!(read("/a/proj/src/x.py", Some("/a/proj")), Action::Allow);
        assert_eq!(read("/b/other/src/x.py", Some("/b/other")), Action::Allow);
        assert_eq!(read("/b/other/src/x.py", Some("/a/proj")), Action::Deny);
        assert_eq!(read("/a/proj/src/x.py", None), Action::Deny);
        assert_eq!(
            read("/a/proj/src/../../../etc/x", Some("/a/proj")),
            Action::Deny
        );
        // A directory literally named `$PROJECT` is no project.
        assert_eq!(read("$PROJECT/src/x", Some("/a/proj")), Action::Deny);
        assert_eq!(read("//$PROJECT/src/x", Some("/a/proj")), Action::Deny);
        assert!(e.refusal_literals("read", true).is_none());
    }

    /// A learned policy's shape: refusals first, allow rules per tool, each
    /// tool ending with a rule that refuses the rest, and a refusing
    /// default. What `opened_places` says is allowed, the engine allows.
    #[test]
    fn what_the_places_let_through_the_engine_allows() {
        let yaml = r#"
version: "1"
default_action: deny
policies:
  - name: deny-sensitive
    match: {tool: [read, write]}
    rules:
      - action: deny
        when:
          path_matches: ["**/.ssh/**", "**/.env", "/etc/shadow", "/proc/*/environ"]
  - name: scoped
    match: {tool: [read], agent: other}
    rules:
      - action: allow
        when: {path_matches: ["/opt/**"]}
  - name: read
    match: {tool: [read]}
    rules:
      - action: allow
        when: {path_matches: ["/usr/lib/**", "/etc/ld.so.cache", "/tmp/*", "$PROJECT/**"]}
      - action: allow
        when: {path_matches: ["/srv/**"], command_matches: ["cat *"]}
      - action: allow
        when: {path_matches: ["/etc/**"], path_not_matches: ["/etc/passwd"]}
      - action: allow
        when: {path_matches: ["/"]}
      - action: deny
        when: {default: true}
      - action: allow
        when: {path_matches: ["/var/**"]}
"#;
        let e = Engine::from_texts(&[(PathBuf::from("p.yaml"), yaml.into())]).unwrap();
        let project = "/w/proj";
        let (literals, places) = e.opened_places("read", Some(project)).unwrap();
        let named: Vec<(&str, bool)> = places.iter().map(|p| (p.path.as_str(), p.under)).collect();
        assert_eq!(
            named,
            [
                ("/", false),
                ("/etc/ld.so.cache", false),
                ("/usr/lib", true),
                ("/w/proj", true)
            ]
        );
        assert!(literals.contains(&".env".to_string()), "{literals:?}");
        // Nothing to publish without a refusal of what is not allowed, and
        // nothing at all with a refusal no literal stands for.
        let open = "version: \"1\"\ndefault_action: allow\npolicies: []\n";
        let open = Engine::from_texts(&[(PathBuf::from("o.yaml"), open.into())]).unwrap();
        assert!(open.opened_places("read", None).is_none());
        let blunt = yaml.replace("\"/etc/shadow\"", "\"/etc/*\"");
        let blunt = Engine::from_texts(&[(PathBuf::from("b.yaml"), blunt)]).unwrap();
        assert!(blunt.opened_places("read", Some(project)).is_some());
        let blind = yaml.replace("\"/etc/shadow\"", "\"**\"");
        let blind = Engine::from_texts(&[(PathBuf::from("b.yaml"), blind)]).unwrap();
        assert!(blind.opened_places("read", Some(project)).is_none());
        // Without the project, `$PROJECT/**` is no place.
        let (_, bare) = e.opened_places("read", None).unwrap();
        assert!(bare.iter().all(|p| p.path != project));

        let screen = crate::screen::build(&literals).unwrap();
        let list = crate::screen::build_places(&places).unwrap();
        let passes = |path: &str| {
            crate::screen::passes(&screen, path.as_bytes())
                && crate::screen::in_places(&list, path.as_bytes())
        };
        let decide = |path: &str| {
            e.evaluate(&Request {
                tool: "read",
                path: Some(path),
                project: Some(project),
                cwd: Some(project),
                agent: "a",
                ..Request::default()
            })
            .action
        };
        for path in [
            "/usr/lib/x86_64-linux-gnu/libc.so.6",
            "/etc/ld.so.cache",
            "/w/proj/src/main.c",
            "/w/proj/.git/HEAD",
            "/",
        ] {
            assert!(passes(path), "{path} should pass");
            assert_eq!(decide(path), Action::Allow, "{path}");
        }
        for path in [
            "/usr/lib/x/.ssh/id_rsa",
            "/w/proj/.env",
            "/w/proj/.ssh/config",
            "/tmp/x",
            "/srv/a",
            "/etc/hosts",
            "/opt/x",
            "/var/x",
            "/usr/lib",
            "/w/proj",
            "/w/project/x",
            "/usr/lib/../../etc/shadow",
        ] {
            assert!(!passes(path), "{path} must go to the collector");
        }
        // Every path that passes is allowed, whatever it is.
        for dir in ["/usr/lib", "/w/proj", "/etc", "/"] {
            for name in ["a", ".env", "x/.ssh/k", "b/.envrc", "p/environ", "y.so"] {
                let path = if dir == "/" {
                    format!("/{name}")
                } else {
                    format!("{dir}/{name}")
                };
                if passes(&path) {
                    assert_eq!(decide(&path), Action::Allow, "{path} passed");
                }
            }
        }
    }
}
