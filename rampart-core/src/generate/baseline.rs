//! Baseline bundles: named sets of paths that every process of a kind needs
//! (the dynamic loader and libraries, locale, zoneinfo, standard devices,
//! terminfo, certificates, name resolution, process information, the Python
//! and Node standard libraries). A generated policy includes a bundle, as
//! one named policy, when an observed call needed it, instead of hundreds
//! of single rules. The bundles live in `policies/baseline/*.yaml` and are
//! embedded in the binary, and read with the policy loader's YAML reader
//! (`policy/yaml.rs`). This module never learns new paths into a
//! bundle; a bundle is a fixed list.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use crate::policy::glob::{Bits, Glob, GlobKind, GlobSet};

use super::model::{Sessions, Stat};
use super::observe::Access;
use crate::policy::yaml::{self, Node, Value};

const SOURCES: &[(&str, &str)] = &[
    (
        "loader.yaml",
        include_str!("../../../policies/baseline/loader.yaml"),
    ),
    (
        "devices.yaml",
        include_str!("../../../policies/baseline/devices.yaml"),
    ),
    (
        "locale.yaml",
        include_str!("../../../policies/baseline/locale.yaml"),
    ),
    (
        "zoneinfo.yaml",
        include_str!("../../../policies/baseline/zoneinfo.yaml"),
    ),
    (
        "terminal.yaml",
        include_str!("../../../policies/baseline/terminal.yaml"),
    ),
    (
        "certificates.yaml",
        include_str!("../../../policies/baseline/certificates.yaml"),
    ),
    (
        "name-resolution.yaml",
        include_str!("../../../policies/baseline/name-resolution.yaml"),
    ),
    (
        "process-info.yaml",
        include_str!("../../../policies/baseline/process-info.yaml"),
    ),
    (
        "python.yaml",
        include_str!("../../../policies/baseline/python.yaml"),
    ),
    (
        "node.yaml",
        include_str!("../../../policies/baseline/node.yaml"),
    ),
];

/// The placeholder for a version number in a bundle pattern.
const VERSION: &str = "{N}";

struct BundleFile {
    name: String,
    description: String,
    read: Vec<String>,
    write: Vec<String>,
}

impl BundleFile {
    /// Reads a bundle: `name` and `description` (strings), `read` and
    /// `write` (lists of strings, absent = empty), nothing else. Errors name
    /// the file, the line and what was found.
    fn parse(file: &str, text: &str) -> Result<BundleFile, String> {
        let root = yaml::parse(text)
            .map_err(|e| format!("{file}:{}: {}", e.line, e.message))?
            .ok_or_else(|| format!("{file}: empty"))?;
        let Value::Map(entries) = &root.value else {
            return Err(format!(
                "{file}:{}: expected a mapping, found {}",
                root.line,
                root.describe()
            ));
        };
        let wrong = |key: &str, node: &Node, expected: &str| {
            format!(
                "{file}:{}: {key}: expected {expected}, found {}",
                node.line,
                node.describe()
            )
        };
        let string = |key: &str, node: &Node| match &node.value {
            Value::Scalar { text, .. } => Ok(text.clone()),
            _ => Err(wrong(key, node, "a string")),
        };
        let strings = |key: &str, node: &Node| match &node.value {
            Value::Null => Ok(Vec::new()),
            Value::Seq(items) => items.iter().map(|i| string(key, i)).collect(),
            _ => Err(wrong(key, node, "a list of strings")),
        };
        let (mut name, mut description) = (None, None);
        let (mut read, mut write) = (Vec::new(), Vec::new());
        for (key, line, node) in entries {
            match key.as_str() {
                "name" => name = Some(string(key, node)?),
                "description" => description = Some(string(key, node)?),
                "read" => read = strings(key, node)?,
                "write" => write = strings(key, node)?,
                _ => {
                    return Err(format!(
                    "{file}:{line}: unknown key {key:?} (expected name, description, read, write)"
                ))
                }
            }
        }
        let missing = |what: &str| format!("{file}: no {what}");
        Ok(BundleFile {
            name: name.ok_or_else(|| missing("name"))?,
            description: description.ok_or_else(|| missing("description"))?,
            read,
            write,
        })
    }
}

/// One bundle.
pub struct Bundle {
    pub name: String,
    pub description: String,
    read: Vec<String>,
    write: Vec<String>,
}

impl Bundle {
    pub fn patterns(&self, access: Access) -> &[String] {
        match access {
            Access::Read => &self.read,
            Access::Write => &self.write,
        }
    }
}

/// The bundle's patterns as the engine matches them in a policy (the one
/// glob dialect), `{N}` as a run of digits.
fn compile(name: &str, patterns: &[String]) -> GlobSet {
    let globs = patterns
        .iter()
        .map(|p| {
            Glob::new(&p.replace(VERSION, "[0-9]*"), GlobKind::Path)
                .unwrap_or_else(|e| panic!("baseline bundle {name}: pattern {p:?}: {e}"))
        })
        .collect();
    GlobSet::new(globs)
}

/// Every shipped bundle, in the order a path is attributed to them.
pub fn bundles() -> &'static [Bundle] {
    static BUNDLES: OnceLock<Vec<Bundle>> = OnceLock::new();
    BUNDLES.get_or_init(|| {
        SOURCES
            .iter()
            .map(|(file, text)| {
                let f = BundleFile::parse(&format!("policies/baseline/{file}"), text)
                    .unwrap_or_else(|e| panic!("{e}"));
                compile(&f.name, &f.read);
                compile(&f.name, &f.write);
                Bundle {
                    name: f.name,
                    description: f.description,
                    read: f.read,
                    write: f.write,
                }
            })
            .collect()
    })
}

/// Which bundle (index) covers `path` for this access, if any: the first
/// in order.
pub fn bundle_for(access: Access, path: &str) -> Option<usize> {
    struct All {
        set: GlobSet,
        owner: Vec<usize>,
    }
    static ALL: OnceLock<[All; 2]> = OnceLock::new();
    let all = ALL.get_or_init(|| {
        [Access::Read, Access::Write].map(|access| {
            let mut patterns = Vec::new();
            let mut owner = Vec::new();
            for (i, b) in bundles().iter().enumerate() {
                patterns.extend(b.patterns(access).iter().cloned());
                owner.extend(std::iter::repeat_n(i, b.patterns(access).len()));
            }
            All {
                set: compile("all", &patterns),
                owner,
            }
        })
    });
    let all = &all[access as usize];
    let mut hits = Bits::new(all.set.len());
    all.set.matches_into(path, &mut hits);
    hits.ones().map(|i| all.owner[i]).min()
}

/// What the observed calls needed of one bundle.
#[derive(Clone, Debug, Default)]
pub struct Use {
    pub stat: Stat,
    /// Versions seen for `{N}` patterns: pattern index -> instantiated patterns.
    pub versions: BTreeMap<usize, BTreeSet<String>>,
}

impl Use {
    pub fn record(
        &mut self,
        bundle: &Bundle,
        access: Access,
        path: &str,
        count: u64,
        sessions: &Sessions,
    ) {
        self.stat.add_from(path, count, sessions);
        for (i, pattern) in bundle.patterns(access).iter().enumerate() {
            if let Some(inst) = instantiate(pattern, path) {
                self.versions.entry(i).or_default().insert(inst);
            }
        }
    }

    /// The patterns to write: every pattern of the bundle, a versioned one
    /// once for each version observed (and left out when none was).
    pub fn patterns(&self, bundle: &Bundle, access: Access) -> Vec<String> {
        let mut out = Vec::new();
        for (i, p) in bundle.patterns(access).iter().enumerate() {
            if p.contains(VERSION) {
                out.extend(self.versions.get(&i).into_iter().flatten().cloned());
            } else {
                out.push(p.clone());
            }
        }
        out
    }
}

/// `pattern` with `{N}` replaced by the version `path` shows there, when
/// the segment holding `{N}` matches.
fn instantiate(pattern: &str, path: &str) -> Option<String> {
    let (before, after) = pattern.split_once(VERSION)?;
    let seg_start = before.rfind('/')? + 1;
    let seg_prefix = &before[seg_start..];
    let seg_suffix = after.split('/').next().unwrap_or("");
    let dir = &before[..seg_start];
    let rest = path.strip_prefix(dir)?;
    let seg = rest.split('/').next()?;
    let digits = seg.strip_prefix(seg_prefix)?.strip_suffix(seg_suffix)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(pattern.replacen(VERSION, digits, 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundles_load_and_attribute_paths() {
        let name = |p| bundle_for(Access::Read, p).map(|i| bundles()[i].name.as_str());
        assert_eq!(name("/lib/x86_64-linux-gnu/libc.so.6"), Some("loader"));
        assert_eq!(name("/lib64/ld-linux-x86-64.so.2"), Some("loader"));
        assert_eq!(name("/usr/share/zoneinfo/Europe/Paris"), Some("zoneinfo"));
        assert_eq!(
            name("/etc/ssl/certs/ca-certificates.crt"),
            Some("certificates")
        );
        assert_eq!(name("/usr/lib/python3.12/os.py"), Some("python"));
        assert_eq!(name("/etc/ssl/private/key.pem"), None);
        assert_eq!(name("/proc/1/environ"), None);
        assert_eq!(
            bundle_for(Access::Write, "/dev/null").map(|i| bundles()[i].name.as_str()),
            Some("devices")
        );
    }

    #[test]
    fn a_bad_bundle_names_its_file_line_and_value() {
        let e = BundleFile::parse("b.yaml", "name: x\ndescription: y\nread: /etc\n")
            .err()
            .unwrap();
        assert_eq!(
            e,
            "b.yaml:3: read: expected a list of strings, found a string \"/etc\""
        );
        let e = BundleFile::parse("b.yaml", "name: x\ndescription: y\nreads: []\n")
            .err()
            .unwrap();
        assert!(e.starts_with("b.yaml:3: unknown key \"reads\""), "{e}");
    }

    #[test]
    fn versions_are_instantiated_from_what_was_seen() {
        assert_eq!(
            instantiate("/usr/lib/python3.{N}/**", "/usr/lib/python3.12/os.py").as_deref(),
            Some("/usr/lib/python3.12/**")
        );
        assert_eq!(
            instantiate("/usr/lib/python3.{N}/**", "/usr/lib/python3/x"),
            None
        );
    }
}
