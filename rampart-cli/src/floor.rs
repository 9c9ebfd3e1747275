//! The Landlock floor of `rampart run --mode enforce`: a kernel ruleset the
//! watched program starts under, so that what the interceptors cannot see
//! (a system call made inline, `io_uring`, an open made inside libc) still
//! cannot reach a file the policy could never allow, and the tree cannot
//! signal or `ptrace` a process outside it (rampart's collector, tracer or
//! serve).
//!
//! The floor is derived from the policy and never refuses what the policy
//! may allow ([`Engine::allowed_beneath`] over-approximates): reads are
//! restricted only when every read, write and program the policy can allow
//! lies beneath known directories (a default-deny policy, as a learned one
//! is), writes only when every write does. Deny rules are left to the
//! interceptors, which still decide every call they see. Granted besides:
//! the system trees every program loads from (the interceptors do not see
//! the dynamic loader's opens), the directories of `PATH`, `/dev`, and the
//! files rampart itself needs in the child (its library, its binary, the
//! collector's directory). The ABI is probed at start; what a kernel does
//! not support is left out (best effort), and on a kernel without Landlock
//! there is no floor. Signals are scoped from ABI 6 on.
//!
//! It owns the ruleset and the child's one call into it ([`enter`]); it
//! never decides a call and never changes the policy.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use landlock::{
    path_beneath_rules, AccessFs, BitFlags, Ruleset, RulesetAttr, RulesetCreatedAttr, Scope, ABI,
};
use rampart_core::policy::Engine;

/// Trees every program may read from: the loader, libraries, programs,
/// configuration and the kernel's files (those that exist are granted).
const SYSTEM_READS: &[&str] = &[
    "/usr", "/lib", "/lib32", "/lib64", "/libx32", "/bin", "/sbin", "/etc", "/opt", "/nix",
    "/snap", "/proc", "/sys", "/dev", "/run",
];
/// Trees every program may write to: terminals, `/dev/null`, shared memory.
const SYSTEM_WRITES: &[&str] = &["/dev"];

/// A prepared floor: the ruleset the child restricts itself with.
pub struct Floor {
    ruleset: OwnedFd,
    /// What it restricts, for the run's log line.
    pub summary: String,
    /// Whether it restricts any file access (else it only keeps signals
    /// in the tree).
    pub restricts_files: bool,
}

/// What rampart itself needs to read in the child besides the policy's
/// grants: the preload library, the rampart binary, the collector's
/// directory (the policy generation file).
pub struct Needs<'a> {
    pub files: &'a [&'a Path],
    /// `PATH` of the child, for programs the policy names without a directory.
    pub path_var: Option<&'a std::ffi::OsStr>,
}

impl Floor {
    /// The floor of `engine` for a run in `project` (without an engine,
    /// a run reporting to `rampart serve`: signals only); `None` when there
    /// is nothing to restrict or the kernel has no Landlock (then said in
    /// the log).
    pub fn prepare(
        engine: Option<&Engine>,
        project: Option<&str>,
        needs: &Needs,
    ) -> Result<Option<Floor>> {
        let abi = abi_version();
        if abi < 1 {
            tracing::warn!("Landlock is not available here: enforce runs without its floor");
            return Ok(None);
        }
        let abi_flags = ABI::from(abi);
        let writes = engine.and_then(|e| e.allowed_beneath("write", project));
        let reads = engine.and_then(|e| e.allowed_beneath("read", project));
        let programs = engine.and_then(|e| e.programs_beneath(project));
        // Reading files, not listing directories: the preload library never
        // sees `opendir` (libc opens the directory itself), so a policy
        // learned under it holds no listing, and a floor that refused them
        // would break `ls` of any directory the policy does not name. A
        // listing shows names, never contents.
        let read_rights = AccessFs::ReadFile.into();
        // Writing, making and removing files, links (`Refer`) and
        // truncation, as far as the ABI has them; not devices, FIFOs,
        // sockets or ioctls, which the policy does not decide.
        let write_rights = AccessFs::from_write(abi_flags)
            & !(AccessFs::MakeChar
                | AccessFs::MakeBlock
                | AccessFs::MakeFifo
                | AccessFs::MakeSock
                | AccessFs::IoctlDev);
        let mut rules: Vec<(PathBuf, BitFlags<AccessFs>)> = Vec::new();
        let reads_floored = match (&writes, &reads, &programs) {
            (Some(w), Some(r), Some((programs, bare))) => {
                // A write may open for reading too (O_RDWR).
                // A name that does not exist yet is not granted for reading:
                // the walk to it fails before Landlock is asked (and one
                // this run creates is granted by its write rule).
                for p in r.iter().chain(w).chain(programs) {
                    let p = proc_self_as_proc(&on_disk(p));
                    if std::fs::symlink_metadata(&p).is_ok() {
                        rules.push((p, read_rights));
                    }
                }
                let mut fixed: Vec<PathBuf> = SYSTEM_READS.iter().map(PathBuf::from).collect();
                fixed.extend(needs.files.iter().map(|p| p.to_path_buf()));
                if *bare {
                    if let Some(path) = needs.path_var {
                        fixed.extend(std::env::split_paths(path).filter(|p| p.is_absolute()));
                    }
                }
                rules.extend(
                    fixed
                        .into_iter()
                        .filter(|p| p.exists())
                        .map(|p| (p, read_rights)),
                );
                true
            }
            _ => false,
        };
        let writes_floored = writes.is_some();
        for p in writes.iter().flatten() {
            let p = proc_self_as_proc(&on_disk(p));
            match std::fs::metadata(&p) {
                // An existing file is granted alone: written in place, not
                // deleted or replaced (Landlock grants those for a whole
                // directory tree; README: the Landlock floor).
                Ok(_) => rules.push((p, write_rights)),
                // To be made: the directory it goes in gets what making it
                // needs (one level up at most, never a home or `/`).
                Err(_) => rules.extend(maker_of(&p).map(|p| (p, write_rights))),
            }
        }
        if writes_floored {
            rules.extend(
                SYSTEM_WRITES
                    .iter()
                    .map(PathBuf::from)
                    .filter(|p| p.exists())
                    .map(|p| (p, write_rights)),
            );
        }
        let mut handled = BitFlags::<AccessFs>::EMPTY;
        if reads_floored {
            handled |= read_rights;
        }
        if writes_floored {
            handled |= write_rights;
        }
        let scoped = abi >= 6;
        if handled.is_empty() && !scoped {
            return Ok(None);
        }
        let mut ruleset = Ruleset::default();
        if !handled.is_empty() {
            ruleset = ruleset.handle_access(handled)?;
        }
        if scoped {
            ruleset = ruleset.scope(Scope::Signal)?;
        }
        let mut created = ruleset
            .create()
            .context("cannot create the Landlock ruleset")?;
        for (path, rights) in &covered_dropped(rules) {
            // A write grant reads as well when reads are floored.
            let rights = *rights & handled;
            let rights = if reads_floored && rights.contains(AccessFs::WriteFile) {
                rights | read_rights
            } else {
                rights
            };
            if rights.is_empty() {
                continue;
            }
            tracing::debug!("Landlock floor: {} {rights:?}", path.display());
            // A grant that cannot be made (the path went away, or cannot be
            // opened) only makes the floor stricter there; say so.
            let mut rule = path_beneath_rules([path], rights).peekable();
            let added = match rule.peek() {
                Some(Ok(_)) => created.add_rules(rule),
                _ => {
                    tracing::warn!("Landlock floor: cannot grant {}", path.display());
                    continue;
                }
            };
            created = added.with_context(|| format!("Landlock rule for {}", path.display()))?;
        }
        let summary = format!(
            "Landlock ABI {abi}: reads {}, writes {}, signals {}",
            if reads_floored { "floored" } else { "open" },
            if writes_floored { "floored" } else { "open" },
            if scoped { "kept in the tree" } else { "open" },
        );
        let ruleset =
            Option::<OwnedFd>::from(created).context("the Landlock ruleset has no descriptor")?;
        Ok(Some(Floor {
            ruleset,
            summary,
            restricts_files: !handled.is_empty(),
        }))
    }

    /// What the child passes to [`enter`].
    pub fn raw_fd(&self) -> i32 {
        self.ruleset.as_raw_fd()
    }
}

/// In the child, between fork and exec: restrict the calling process with
/// the ruleset `fd` (raw system calls only). Without `CAP_SYS_ADMIN` the
/// kernel demands `no_new_privs`, which is then set. Returns 0, or the
/// errno of the failure.
pub fn enter(fd: i32) -> i32 {
    let restrict = || {
        // SAFETY: plain system call on a descriptor the parent prepared.
        let r = unsafe { libc::syscall(libc::SYS_landlock_restrict_self, fd, 0) };
        if r == 0 {
            0
        } else {
            // SAFETY: errno is thread-local.
            unsafe { *libc::__errno_location() }
        }
    };
    match restrict() {
        libc::EPERM => {
            // SAFETY: plain prctl.
            if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
                // SAFETY: errno is thread-local.
                return unsafe { *libc::__errno_location() };
            }
            restrict()
        }
        e => e,
    }
}

/// The Landlock ABI of the running kernel (0 or less: none).
pub fn abi_version() -> i32 {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    // SAFETY: the version query takes no ruleset.
    unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        ) as i32
    }
}

/// The file a rule's path names (a recorded name: `%XX` escapes of a name
/// that is not UTF-8 decoded, see `rampart_core::event::name_to_bytes`).
fn on_disk(rule_path: &str) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    let bytes = rampart_core::event::name_to_bytes(rule_path);
    PathBuf::from(std::ffi::OsStr::from_bytes(&bytes))
}

/// `/proc/self/...` and `/proc/thread-self/...` name rampart's own
/// process here, not the child's: granted as `/proc`.
fn proc_self_as_proc(p: &Path) -> PathBuf {
    if p.starts_with("/proc/self") || p.starts_with("/proc/thread-self") {
        PathBuf::from("/proc")
    } else {
        p.to_path_buf()
    }
}

/// Where a path the policy lets the program make is made: its directory,
/// when that exists and is not `/`, `/home` or the home directory (a grant
/// there would open every file beside it). `None`: not granted (the floor
/// refuses making it; README: the Landlock floor).
fn maker_of(p: &Path) -> Option<PathBuf> {
    let dir = p.parent()?;
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let too_wide = dir == Path::new("/")
        || dir == Path::new("/home")
        || home.as_deref().is_some_and(|h| dir == h);
    (!too_wide && dir.is_dir()).then(|| dir.to_path_buf())
}

/// The rules without those another rule covers (a directory above with
/// at least the same rights), sorted: `/dev/fd/1` under `/dev`, and
/// links in there that would name rampart's own descriptors, are not
/// opened at all.
fn covered_dropped(
    mut rules: Vec<(PathBuf, BitFlags<AccessFs>)>,
) -> Vec<(PathBuf, BitFlags<AccessFs>)> {
    rules.sort();
    rules.dedup();
    let covered = |(path, rights): &(PathBuf, BitFlags<AccessFs>)| {
        rules
            .iter()
            .any(|(p, r)| p != path && path.starts_with(p) && r.contains(*rights))
    };
    rules.iter().filter(|r| !covered(r)).cloned().collect()
}
