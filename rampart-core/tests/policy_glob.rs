//! Every case of Go Rampart's glob tests (`../shared/compat/rampart/glob-cases.yaml`)
//! against this crate's globs, one by one and through the multi-pattern sets
//! the engine uses.

use std::path::PathBuf;

use rampart_core::policy::glob::{Bits, Glob, GlobKind, GlobSet};

fn shared_dir() -> PathBuf {
    match std::env::var_os("RAMPART_SHARED") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
    }
}

#[derive(serde::Deserialize)]
struct Cases {
    cases: Vec<Case>,
}

#[derive(serde::Deserialize)]
struct Case {
    kind: String,
    pattern: String,
    input: String,
    #[serde(rename = "match")]
    expected: bool,
    #[serde(default)]
    note: String,
}

fn load_cases() -> Vec<Case> {
    let path = shared_dir().join("compat/rampart/glob-cases.yaml");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let cases: Cases = serde_yaml_ng::from_str(&text).expect("glob-cases.yaml parses");
    cases.cases
}

fn kind_of(case: &Case) -> GlobKind {
    match case.kind.as_str() {
        "command" => GlobKind::Text,
        "path" => GlobKind::Path,
        other => panic!("unknown case kind {other:?}"),
    }
}

#[test]
fn every_go_rampart_glob_case_passes() {
    let cases = load_cases();
    assert!(cases.len() >= 50, "only {} cases loaded", cases.len());
    let mut failures = Vec::new();
    let mut refused = 0;
    for case in &cases {
        let got = match Glob::new(&case.pattern, kind_of(case)) {
            Ok(glob) => glob.is_match(&case.input),
            // A pattern Go Rampart never matches is refused when a policy
            // loads; as a matcher it matches nothing.
            Err(_) => {
                refused += 1;
                false
            }
        };
        if got != case.expected {
            failures.push(format!(
                "{} {:?} vs {:?}: expected {}, got {got} ({})",
                case.kind,
                abbreviate(&case.pattern),
                abbreviate(&case.input),
                case.expected,
                case.note
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The empty, oversized and three-`**` patterns of the file.
    assert_eq!(refused, 5, "patterns refused at load");
}

#[test]
fn glob_sets_agree_with_single_globs_on_every_case() {
    let cases = load_cases();
    for kind in [GlobKind::Text, GlobKind::Path] {
        let mine: Vec<&Case> = cases.iter().filter(|c| kind_of(c) == kind).collect();
        let globs: Vec<(usize, Glob)> = mine
            .iter()
            .enumerate()
            .filter_map(|(i, c)| Glob::new(&c.pattern, kind).ok().map(|g| (i, g)))
            .collect();
        let set = GlobSet::new(globs.iter().map(|(_, g)| g.clone()).collect());
        for case in &mine {
            let mut bits = Bits::new(set.len());
            set.matches_into(&case.input, &mut bits);
            for (slot, (_, glob)) in globs.iter().enumerate() {
                assert_eq!(
                    bits.get(slot),
                    glob.is_match(&case.input),
                    "set and glob disagree: {:?} vs {:?}",
                    abbreviate(glob.as_str()),
                    abbreviate(&case.input)
                );
            }
        }
    }
}

fn abbreviate(s: &str) -> String {
    if s.len() > 40 {
        format!("{}…({} bytes)", &s[..40], s.len())
    } else {
        s.to_string()
    }
}
