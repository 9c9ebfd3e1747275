//! Where an engine can allow a file at all: the ground a kernel floor
//! (Landlock, in `rampart run --mode enforce`) may grant without ever
//! refusing what the policy allows.
//!
//! It reads the compiled rules and answers with directories and files
//! beneath which every path the engine may allow lies, or "anywhere".
//! It is an over-approximation by design: deny rules are ignored (the
//! interceptors still decide), and any allowing rule whose paths cannot
//! be bounded by a directory (no path condition, a pattern that starts
//! with a wildcard or is relative, a `path_not_matches` alone) makes the
//! answer "anywhere". It never decides a call.

use super::{Engine, When, PARENTS_PREFIX, PROJECT_PREFIX};
use crate::policy::Action;

impl Engine {
    /// The paths beneath which a path-only call of `tool` (`read`,
    /// `write`) may be allowed, absolute, with `$PROJECT` as `project` and
    /// `$PARENTS/NAME` as NAME in each directory above it; `None` when one
    /// may be allowed anywhere (a default that allows, a rule that allows
    /// whatever the path, a pattern no directory bounds).
    pub fn allowed_beneath(&self, tool: &str, project: Option<&str>) -> Option<Vec<String>> {
        let mut out = Vec::new();
        self.each_granting_rule(tool, |f| {
            match &f.path {
                Some(range) => {
                    for i in range.clone() {
                        out.extend(bound(self.paths.glob(i).as_str(), project)?);
                    }
                }
                // A condition on a field a path-only call lacks never
                // matches one.
                None if f.command.is_some()
                    || f.env.is_some()
                    || f.url.is_some()
                    || f.domain.is_some() => {}
                None => return None,
            }
            Some(())
        })?;
        out.sort();
        out.dedup();
        Some(out)
    }

    /// The programs an exec may be allowed to run, as paths beneath which
    /// they lie: each command pattern's first word when it is an absolute
    /// path (the directory of its first wildcard when it has one); `Some`
    /// with `bare` true when some pattern names its program without a
    /// directory (found through `PATH`). `None` when a program may be
    /// anywhere (a pattern that starts with a wildcard, a default that
    /// allows, a rule with no command condition).
    pub fn programs_beneath(&self, project: Option<&str>) -> Option<(Vec<String>, bool)> {
        let mut out = Vec::new();
        let mut bare = false;
        self.each_granting_rule("exec", |f| {
            let Some(slot) = f.command else {
                // A rule on a path or address only never matches an exec.
                return (f.path.is_some() || f.url.is_some() || f.domain.is_some()).then_some(());
            };
            let info = &self.slots[slot as usize];
            if !info.contains.is_empty() {
                return None;
            }
            for i in info.globs.clone() {
                let pattern = self.commands.glob(i).as_str();
                let first = pattern.split(' ').next().unwrap_or("");
                if first.is_empty() || first.starts_with(['*', '?', '[', '{']) {
                    return None;
                }
                if !first.contains('/') {
                    bare = true;
                    continue;
                }
                // The program itself when named, else the directory its
                // name's wildcards are in.
                out.extend(bound(first, project)?);
            }
            Some(())
        })?;
        out.sort();
        out.dedup();
        Some((out, bare))
    }

    /// Call `f` with the conditions of every rule that may let a call of
    /// `tool` through (everything but deny: ask, a person may say yes;
    /// watch, allows and flags), in order; `None` when `f` says so, when a
    /// rule lets every call through, or when the default does and can be
    /// reached.
    fn each_granting_rule(
        &self,
        tool: &str,
        mut f: impl FnMut(&super::Fields) -> Option<()>,
    ) -> Option<()> {
        let mut default_reachable = true;
        for p in self.policies.iter().filter(|p| p.admits_tool(tool)) {
            let whole_scope = p.agent.is_none() && p.session.is_none();
            for r in &p.rules {
                let grants = r.action != Action::Deny;
                match &r.when {
                    When::Never => {}
                    When::Always if grants => return None,
                    When::Always => {
                        // No rule after it fires; with no caller filter
                        // the default is never reached.
                        default_reachable &= !whole_scope;
                        break;
                    }
                    When::Fields(_) if !grants => {}
                    When::Fields(fields) => f(fields)?,
                }
            }
        }
        (!default_reachable || self.default_action == Action::Deny).then_some(())
    }
}

/// The paths beneath which every match of the path pattern lies; `None`
/// when that is anywhere.
fn bound(pattern: &str, project: Option<&str>) -> Option<Vec<String>> {
    if let Some(rest) = pattern.strip_prefix(PROJECT_PREFIX) {
        let root = project.filter(|p| p.starts_with('/'))?;
        let spelled = format!("{}{rest}", root.trim_end_matches('/'));
        return bound(&spelled, None);
    }
    if let Some(rest) = pattern.strip_prefix(PARENTS_PREFIX) {
        // NAME directly inside each directory above the project.
        let name = rest.strip_prefix('/')?;
        if name.is_empty() || name.contains('/') || literal_prefix(name) != name {
            return None;
        }
        let root = project.filter(|p| p.starts_with('/'))?;
        let mut out = Vec::new();
        let mut dir = root.trim_end_matches('/');
        while let Some((up, _)) = dir.rsplit_once('/') {
            out.push(format!("{up}/{name}"));
            dir = up;
        }
        return Some(out);
    }
    if !pattern.starts_with('/') {
        return None;
    }
    let lit = literal_prefix(pattern);
    if lit.len() == pattern.len() {
        return Some(vec![pattern.to_string()]);
    }
    let dir = lit.rsplit_once('/').map_or("", |(d, _)| d);
    (!dir.is_empty()).then(|| vec![dir.to_string()])
}

/// The part of a pattern before its first wildcard or escape.
fn literal_prefix(pattern: &str) -> &str {
    let end = pattern
        .find(['*', '?', '[', '{', '\\'])
        .unwrap_or(pattern.len());
    &pattern[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn engine(text: &str) -> Engine {
        Engine::from_texts(&[(PathBuf::from("p.yaml"), text.to_string())]).unwrap()
    }

    #[test]
    fn a_default_deny_policy_is_bounded_by_its_allow_patterns() {
        let e = engine(
            r#"version: "1"
default_action: deny
policies:
  - name: files
    match: {tool: [read, write]}
    rules:
      - action: deny
        when: {path_matches: ["**/.ssh/**"]}
      - action: allow
        when: {path_matches: ["/usr/lib/**", "/etc/hosts", "$PROJECT/src/*.rs", "/opt/a*/x"]}
  - name: writes
    match: {tool: write}
    rules:
      - action: allow
        when: {path_matches: ["$PROJECT/**", "$PARENTS/.editorconfig"]}
  - name: programs
    match: {tool: exec}
    rules:
      - action: allow
        when: {command_matches: ["git *", "/usr/bin/python3 *", "$PROJECT/bin/tool"]}
"#,
        );
        let p = Some("/home/u/proj");
        assert_eq!(
            e.allowed_beneath("read", p).unwrap(),
            ["/etc/hosts", "/home/u/proj/src", "/opt", "/usr/lib"]
        );
        assert_eq!(
            e.allowed_beneath("write", p).unwrap(),
            [
                "/.editorconfig",
                "/etc/hosts",
                "/home/.editorconfig",
                "/home/u/.editorconfig",
                "/home/u/proj",
                "/home/u/proj/src",
                "/opt",
                "/usr/lib",
            ]
        );
        let (programs, bare) = e.programs_beneath(p).unwrap();
        assert_eq!(programs, ["/home/u/proj/bin/tool", "/usr/bin/python3"]);
        assert!(bare);
    }

    #[test]
    fn what_no_directory_bounds_is_anywhere() {
        let anywhere = [
            // A default that allows.
            "default_action: allow\npolicies: []\n",
            // A pattern that starts with a wildcard, or is relative.
            "default_action: deny\npolicies:\n  - name: a\n    rules:\n      - action: allow\n        when: {path_matches: [\"**/*.py\"]}\n",
            "default_action: deny\npolicies:\n  - name: a\n    rules:\n      - action: allow\n        when: {path_matches: [\"src/**\"]}\n",
            // A rule that allows whatever the path.
            "default_action: deny\npolicies:\n  - name: a\n    match: {tool: read}\n    rules:\n      - action: allow\n",
        ];
        for body in anywhere {
            let e = engine(&format!("version: \"1\"\n{body}"));
            assert_eq!(e.allowed_beneath("read", Some("/p")), None, "{body}");
        }
        // A rule for commands only never lets an open through.
        let e = engine(
            "version: \"1\"\ndefault_action: deny\npolicies:\n  - name: a\n    rules:\n      - action: allow\n        when: {command_matches: [\"ls *\"]}\n",
        );
        assert_eq!(e.allowed_beneath("read", None), Some(vec![]));
    }
}
