//! Writing the policy: [`build_doc`] turns what was [`Learned`] into a
//! [`Doc`] (deny policies first, then one policy per tool, each rule
//! grouped by place or program under a comment with its support, a header
//! saying what was learned from), and [`Generator::finish`] renders it,
//! admits exactly the scripts the exec patterns could not cover, and hands
//! it to the replay.
//!
//! Owns the order, grouping and comments of a generated file. It never
//! reads files or the clock, and never decides whether a call is learned
//! (that is [`super::generalise`]).

use std::collections::{BTreeMap, BTreeSet};

use super::aggregate::Generator;
use super::baseline;
use super::destructive::is_destructive;
use super::eval::{Checker, Query};
use super::exec;
use super::generalise::{exact_path_pattern, Built, Learned};
use super::model::{self, stat_comment, Doc, Rule, Stat, When};
use super::net;
use super::observe::Access;
use super::options::Options;
use super::parts::{
    allow, baseline_summaries, deny_policies, deny_rest, one_line, policy, strs, tool_summaries,
    write_tools,
};
use super::paths::{self, Places};
use super::render;
use super::self_tests;
use super::summary::{GenerateError, Generated, Summary, Warning};

impl Generator {
    /// Writes the policy, replays and probes it.
    pub fn finish(self) -> Result<Generated, GenerateError> {
        let built = self.build(None)?;
        built.into_generated()
    }
}

impl Built {
    fn into_generated(mut self) -> Result<Generated, GenerateError> {
        let (mut doc, warnings) = build_doc(&self.learned, &self.opts, &self.places, &self.summary);
        self.summary.warnings.extend(warnings);
        let mut yaml = render::render(&doc);
        // Commands the rules do not admit as the engine reads them (shell
        // syntax the generaliser could not split) are admitted exactly.
        if let Ok(checker) = Checker::new(&yaml, "generated policy", self.places.home.as_deref()) {
            let missed: Vec<String> = self
                .keys
                .exec
                .keys()
                .filter(|c| !is_destructive(c))
                .filter(|c| {
                    !checker.admits(&Query {
                        tool: "exec",
                        command: Some(c),
                        project: self.places.command_project(c),
                        ..Query::default()
                    })
                })
                .map(|c| c.to_string())
                .collect();
            if !missed.is_empty() {
                let mut stat = Stat::default();
                for c in &missed {
                    stat.add(c, self.keys.exec.get(c.as_str()).map_or(1, |t| t.count));
                }
                let name = format!("{}-exec", self.opts.name_prefix);
                if let Some(rule) = doc
                    .policies
                    .iter_mut()
                    .find(|p| p.name == name)
                    .and_then(|p| p.rules.first_mut())
                {
                    let ps = rule.patterns_mut("command_matches");
                    ps.push(one_line(&format!(
                        "# scripts kept exact (shell syntax not split into commands): {}",
                        stat_comment(&stat).trim_start_matches("# ")
                    )));
                    ps.extend(model::sorted(missed.iter().map(|c| exec::exact_pattern(c))));
                }
                self.summary.warnings.push(Warning {
                    message: "scripts kept exact (their commands could not be generalised)".into(),
                    stat,
                });
                yaml = render::render(&doc);
            }
        }
        self.summary.tools = tool_summaries(&doc, &self.opts.name_prefix);
        self.summary.baselines = baseline_summaries(&self.learned);
        let tests = self_tests::block(&yaml, &self.keys, &self.places);
        self.check(yaml).map(|mut generated| {
            generated.yaml.push_str(&tests);
            generated
        })
    }
}

/// The place a learned path pattern belongs to, for grouping: rank and
/// what the policy's comment calls it.
fn place_of(pattern: &str, places: &Places) -> (usize, &'static str) {
    if pattern.starts_with(paths::PROJECT) {
        return (1, "the project, wherever it is checked out");
    }
    if pattern.starts_with(paths::PARENTS) {
        return (
            2,
            "files tools look for in the directories above the project",
        );
    }
    if let Some(tree) = pattern.strip_suffix("/**") {
        if paths::is_system_tree(tree) {
            return (3, "system trees that packages install: read whole");
        }
    }
    if places.display(pattern).starts_with('~') {
        return (4, "the home directory");
    }
    if places.temps.iter().any(|t| paths::is_under(pattern, t)) {
        return (5, "temp directories");
    }
    (6, "elsewhere")
}

/// A rule's comment lines: support, then what its wildcards stand for.
fn comments(stat: &Stat, generalised: &BTreeSet<&str>) -> Vec<String> {
    let mut c = vec![stat_comment(stat)];
    if !generalised.is_empty() {
        c.push(format!(
            "# generalised: * stands for {}",
            generalised.iter().copied().collect::<Vec<_>>().join(", ")
        ));
    }
    c
}

pub(crate) fn build_doc(
    learned: &Learned,
    opts: &Options,
    places: &Places,
    summary: &Summary,
) -> (Doc, Vec<Warning>) {
    let mut warnings: BTreeMap<String, Stat> = BTreeMap::new();
    let prefix = &opts.name_prefix;
    let mut policies = deny_policies(prefix, learned, places);

    // exec: one allow rule, its patterns grouped by program.
    let exec_rules = exec::generalise(&learned.exec, opts.exec_threshold);
    for r in &exec_rules {
        if r.volatile {
            warnings
                .entry(
                    "commands kept exact although they name a temp path or number that will differ next run: add a rule by hand if they recur".into(),
                )
                .or_default()
                .absorb(&r.stat);
        }
        if let Some(why) = r.exact_because {
            warnings
                .entry(format!("commands kept exact, not generalised ({why})"))
                .or_default()
                .absorb(&r.stat);
        }
    }
    let mut by_program: BTreeMap<&str, Vec<&exec::ExecRule>> = BTreeMap::new();
    for r in &exec_rules {
        by_program.entry(r.program.as_str()).or_default().push(r);
    }
    // Several shell utilities used: all of them, by name (their reads and
    // writes are still decided one by one).
    let utilities: Vec<&str> = by_program
        .keys()
        .copied()
        .filter(|p| exec::UTILITIES.contains(p))
        .collect();
    let mut baseline_utilities = None;
    if utilities.len() >= exec::UTILITIES_NEEDED {
        let mut s = Stat::default();
        for u in &utilities {
            for r in by_program.remove(u).unwrap_or_default() {
                s.absorb(&r.stat);
            }
        }
        baseline_utilities = Some((s, utilities.len()));
    }
    // Several read-only git subcommands used: all of them.
    let git_queries: BTreeSet<&str> = by_program
        .get("git")
        .into_iter()
        .flatten()
        .filter_map(|r| r.pattern.split(' ').nth(1))
        .filter(|sub| exec::GIT_QUERIES.contains(sub))
        .collect();
    let git_baseline = git_queries.len() >= 2;
    if git_baseline {
        if let Some(rs) = by_program.get_mut("git") {
            rs.retain(|r| {
                !r.pattern
                    .split(' ')
                    .nth(1)
                    .is_some_and(|sub| exec::GIT_QUERIES.contains(&sub))
            });
        }
    }
    if !by_program.is_empty() || baseline_utilities.is_some() {
        // One rule: the engine admits a script (`bash -c 'a | b'`) only when
        // a single rule covers every command it runs. Patterns are grouped
        // by program, each group under a comment with its support.
        let mut stat = Stat::default();
        let mut patterns = Vec::new();
        if let Some((s, n)) = &baseline_utilities {
            stat.absorb(s);
            patterns.push(one_line(&format!(
                "# baseline utilities: shell utilities ({n} used; {}); what they read, write and run is decided at each call",
                stat_comment(s).trim_start_matches("# ")
            )));
            for u in exec::UTILITIES {
                if exec::UTILITIES_BARE.contains(u) {
                    patterns.push(u.to_string());
                }
                patterns.push(format!("{u} *"));
            }
        }
        // The project's programs: the agent writes the project and runs its
        // code (its build, its scripts), so a program it built may run.
        let runs_project_code = exec_rules
            .iter()
            .any(|r| r.generalised.contains(exec::PROJECT_CODE));
        let writes_project = learned.files[Access::Write as usize]
            .keys()
            .any(|k| k.starts_with(paths::PROJECT));
        if runs_project_code && writes_project {
            patterns
                .push("# the project's programs: it writes the project and runs its code".into());
            patterns.push(format!("{}/**", paths::PROJECT));
        }
        if git_baseline {
            patterns.push(format!(
                "# baseline git queries: read-only git subcommands ({} used)",
                git_queries.len()
            ));
            for q in exec::GIT_QUERIES {
                patterns.push(format!("git {q}"));
                patterns.push(format!("git {q} *"));
            }
        }
        for (program, rs) in by_program {
            if rs.is_empty() {
                continue;
            }
            let mut s = Stat::default();
            let mut generalised = BTreeSet::new();
            for r in &rs {
                s.absorb(&r.stat);
                generalised.extend(r.generalised.iter().copied());
            }
            stat.absorb(&s);
            let support = stat_comment(&s);
            let support = support.trim_start_matches("# ");
            let mut line = format!("#> {program}: {support}");
            if !generalised.is_empty() {
                line.push_str(&format!(
                    "; * is {}",
                    generalised.iter().copied().collect::<Vec<_>>().join(", ")
                ));
            }
            patterns.push(one_line(&line));
            patterns.extend(model::sorted(rs.iter().map(|r| r.pattern.clone())));
        }
        let rules = vec![
            Rule {
                comments: vec![
                    stat_comment(&stat),
                    "# programs, each with its subcommands and flags; data (messages, paths, URLs' paths, inline code) is *".into(),
                ],
                action: "allow".into(),
                when: vec![("command_matches".into(), When::Patterns(patterns))],
                message: None,
                extra: Vec::new(),
            },
            deny_rest("command"),
        ];
        policies.push(policy(
            format!("{prefix}-exec"),
            "Programs the agent ran: structure kept, data free",
            None,
            strs(&["exec"]),
            rules,
        ));
    }

    // files
    for (access, suffix, tools, what) in [
        (
            Access::Read,
            "read",
            strs(&["read"]),
            "Files the agent read",
        ),
        (
            Access::Write,
            "write",
            write_tools(learned),
            "Files the agent wrote",
        ),
    ] {
        let mut rules: Vec<(String, Rule)> = Vec::new();
        // System trees learned whole make a bundle's patterns inside them
        // redundant.
        let trees: Vec<&str> = learned.files[access as usize]
            .keys()
            .filter_map(|k| k.strip_suffix("/**"))
            .filter(|t| paths::is_system_tree(t))
            .collect();
        for (b, u) in &learned.bundles[access as usize] {
            let bundle = &baseline::bundles()[*b];
            let patterns: Vec<String> = u
                .patterns(bundle, access)
                .iter()
                .filter(|p| {
                    let literal = &p[..p.find(['*', '?', '[']).unwrap_or(p.len())];
                    !trees.iter().any(|t| paths::is_under(literal, t))
                })
                .map(|p| places.display(p))
                .collect();
            if patterns.is_empty() {
                continue;
            }
            let mut c = vec![format!(
                "# baseline {}: {}",
                bundle.name, bundle.description
            )];
            c.push(stat_comment(&u.stat));
            rules.push((
                format!("0 baseline {}", bundle.name),
                Rule {
                    comments: c,
                    action: "allow".into(),
                    when: vec![("path_matches".into(), When::Patterns(patterns))],
                    message: None,
                    extra: Vec::new(),
                },
            ));
        }
        let (project, elsewhere): (BTreeMap<String, Stat>, BTreeMap<String, Stat>) = learned.files
            [access as usize]
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .partition(|(k, _)| k.starts_with(paths::PROJECT));
        let mut found = paths::project_rules(&project, access);
        found.extend(paths::collapse(
            &elsewhere,
            access,
            places,
            opts.collapse_threshold,
        ));
        // One rule per place, each pattern under a comment with its
        // support: reviewable, and a few lines a pattern.
        let mut groups: BTreeMap<(usize, &str), Vec<paths::PathRule>> = BTreeMap::new();
        for r in found {
            groups
                .entry(place_of(&r.pattern, places))
                .or_default()
                .push(r);
        }
        for ((rank, label), members) in groups {
            let mut stat = Stat::default();
            let mut patterns = Vec::new();
            for r in &members {
                stat.absorb(&r.stat);
                let shown = places.display(&r.pattern);
                if members.len() > 1 {
                    let mut line = stat_comment(&r.stat).replacen("# ", "#> ", 1);
                    if r.pattern.contains('*') && !r.pattern.ends_with("/**") {
                        line.push_str("; * is a volatile name");
                    }
                    patterns.push(one_line(&line));
                }
                // The project's or a temp root's own directory with what is
                // below it.
                if let Some(root) = r.pattern.strip_suffix("/**") {
                    if root == paths::PROJECT || places.temps.iter().any(|t| t == root) {
                        patterns.push(root.to_string());
                    }
                }
                patterns.push(shown);
            }
            rules.push((
                format!("1 {rank}"),
                Rule {
                    comments: vec![format!("# {label}"), stat_comment(&stat)],
                    action: "allow".into(),
                    when: vec![("path_matches".into(), When::Patterns(patterns))],
                    message: None,
                    extra: Vec::new(),
                },
            ));
        }
        for (p, s) in &learned.sensitive[access as usize] {
            let shown = places.display(&exact_path_pattern(p));
            rules.push((
                format!("1 {shown}"),
                allow(
                    s,
                    "path_matches",
                    vec![shown],
                    vec!["# SENSITIVE: seen during learning; allowed exactly, review".into()],
                ),
            ));
        }
        rules.sort_by(|a, b| a.0.cmp(&b.0));
        if !rules.is_empty() {
            let mut rules: Vec<Rule> = rules.into_iter().map(|(_, r)| r).collect();
            rules.push(deny_rest(if access == Access::Read {
                "read"
            } else {
                "write"
            }));
            policies.push(policy(
                format!("{prefix}-{suffix}"),
                what,
                None,
                tools,
                rules,
            ));
        }
    }

    // net
    let connect = net::connect_rules(&learned.connects, opts.domain_threshold);
    let mut net_rules: Vec<Rule> = Vec::new();
    for loopback in [false, true] {
        for r in connect.iter().filter(|r| r.loopback == loopback) {
            let mut generalised = BTreeSet::new();
            if r.patterns.len() > 1 {
                generalised.insert("a high port (the observed ports varied)");
            }
            if r.patterns.iter().any(|p| p.contains("*.")) {
                generalised.insert("a subdomain");
            }
            let mut c = comments(&r.stat, &generalised);
            if loopback {
                c.insert(0, "# loopback".into());
            }
            net_rules.push(Rule {
                comments: c,
                action: "allow".into(),
                when: vec![("url_matches".into(), When::Patterns(r.patterns.clone()))],
                message: None,
                extra: Vec::new(),
            });
        }
    }
    for (p, s) in &learned.sockets {
        let mut r = allow(s, "path_matches", vec![places.display(p)], Vec::new());
        r.comments.insert(0, "# unix socket".into());
        net_rules.push(r);
    }
    if !net_rules.is_empty() {
        net_rules.push(deny_rest("connection"));
        policies.push(policy(
            format!("{prefix}-net"),
            "Network connections by host and port; unix sockets by path",
            None,
            strs(&["net"]),
            net_rules,
        ));
    }

    // fetch-like tools
    if !learned.fetches.is_empty() {
        let mut all: BTreeMap<String, Stat> = BTreeMap::new();
        for m in learned.fetches.values() {
            for (u, s) in m {
                all.entry(u.clone()).or_default().absorb(s);
            }
        }
        let mut rules: Vec<Rule> = net::fetch_rules(&all)
            .iter()
            .map(|r| allow(&r.stat, "url_matches", r.patterns.clone(), Vec::new()))
            .collect();
        rules.push(deny_rest("URL"));
        policies.push(policy(
            format!("{prefix}-fetch"),
            "URLs fetched, by scheme, host and port",
            None,
            learned.fetches.keys().cloned().collect(),
            rules,
        ));
    }

    // other tools
    if !learned.others.is_empty() {
        let mut stat = Stat::default();
        for (tool, s) in &learned.others {
            stat.count += s.count;
            stat.add(tool, 0);
        }
        let rule = Rule {
            comments: vec![
                stat_comment(&stat),
                "# these tools carry no command, path or URL to learn from: allowed by name".into(),
            ],
            action: "allow".into(),
            when: vec![("default".into(), When::Flag(true))],
            message: None,
            extra: Vec::new(),
        };
        policies.push(policy(
            format!("{prefix}-tools"),
            "Other tools, allowed by name",
            None,
            learned.others.keys().cloned().collect(),
            vec![rule],
        ));
    }

    let doc = Doc {
        header: header(summary),
        version: "1".into(),
        default_action: "deny".into(),
        policies,
        extra: Vec::new(),
    };
    let warnings = warnings
        .into_iter()
        .map(|(message, stat)| Warning { message, stat })
        .collect();
    (doc, warnings)
}

fn header(s: &Summary) -> Vec<String> {
    let mut h = vec![
        "# Generated by `rampart init --from-audit`: a least-privilege policy learned".to_string(),
        format!(
            "# from {} call{} in {} session{}{}.",
            s.learned,
            if s.learned == 1 { "" } else { "s" },
            s.sessions,
            if s.sessions == 1 { "" } else { "s" },
            match (&s.first, &s.last) {
                (Some(a), Some(b)) => format!(", {a} to {b}"),
                _ => String::new(),
            }
        ),
        "# Review before enforcing. Each allow rule says what supports it (calls, up to"
            .to_string(),
        "# three examples). Deny policies win over every allow; the rest is denied.".to_string(),
    ];
    let list = |names: &[String]| {
        let shown: Vec<&str> = names.iter().take(8).map(String::as_str).collect();
        let more = names.len().saturating_sub(shown.len());
        let mut text = shown.join(", ");
        if more > 0 {
            text.push_str(&format!(" and {more} more"));
        }
        text
    };
    if !s.agent_names.is_empty() {
        h.push(one_line(&format!("# Agents: {}.", list(&s.agent_names))));
    }
    if !s.session_names.is_empty() {
        h.push(one_line(&format!(
            "# Sessions: {}.",
            list(&s.session_names)
        )));
    }
    h.push(
        "# Generalised: data in commands, volatile names, the project as $PROJECT; never".into(),
    );
    h.push("# secrets, keys, start-up files, hooks or system directories (README).".into());
    if let Some(home) = &s.home {
        h.push(format!("# ~ is {home}."));
    }
    if s.included_denied.count > 0 {
        h.push(one_line(&format!(
            "# Learned although denied, as the reviewer asked (--include-denied {}): {} call{}.",
            s.include_denied
                .iter()
                .map(|(i, _)| i.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            s.included_denied.count,
            if s.included_denied.count == 1 {
                ""
            } else {
                "s"
            }
        )));
    }
    h
}
