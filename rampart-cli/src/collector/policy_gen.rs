//! The policy generation file: how the collector tells the preload library
//! in every enforcing process that its cached verdicts are stale.
//!
//! A 16-byte file next to the collector's socket (layout in
//! [`rampart_core::wire::POLICY_GEN_LEN`]): the generation (1 at start,
//! bumped after every policy change) and the tools the policy in force can
//! never refuse. The library maps it read-only once per process
//! (`RAMPART_POLICY_GEN` names it); the collector writes both words
//! atomically through its own shared mapping, never truncates the file, and
//! replaces a stale one from an earlier collector by renaming a new file
//! over it (processes still mapping the old one keep a valid page).

use std::fs::OpenOptions;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result};
use rampart_core::policy::Engine;
use rampart_core::wire;

/// The file's name, in the socket's directory.
pub const FILE_NAME: &str = "policy-generation";

/// The policy generation file of the collector listening at `socket`.
pub fn path_for(socket: &Path) -> PathBuf {
    socket.with_file_name(FILE_NAME)
}

/// The tools (`wire::TOOL_*` bits) no call of which `engine` can refuse:
/// all of them when no policy is in scope and the default action lets calls
/// through, else none (a finer, per-tool answer would need the engine to
/// say which tools its deny and ask rules can reach).
pub fn verdict_free_tools(engine: &Engine) -> u64 {
    if engine.policy_count() == 0 && super::allows(engine.default_action()) {
        wire::TOOL_EXEC | wire::TOOL_READ | wire::TOOL_WRITE | wire::TOOL_NET
    } else {
        0
    }
}

/// The collector's writable mapping of the file.
pub struct PolicyGeneration {
    words: *const AtomicU64,
    path: PathBuf,
}

// SAFETY: the mapping is only ever accessed through atomics.
unsafe impl Send for PolicyGeneration {}
unsafe impl Sync for PolicyGeneration {}

impl PolicyGeneration {
    /// Create (or replace) the file at `path` with generation 1.
    pub fn create(path: &Path, engine: &Engine) -> Result<PolicyGeneration> {
        let dir = path.parent().unwrap_or(Path::new("."));
        let tmp = dir.join(format!(".{FILE_NAME}.{}", std::process::id()));
        let mut init = [0u8; wire::POLICY_GEN_LEN];
        init[..8].copy_from_slice(&1u64.to_le_bytes());
        init[8..].copy_from_slice(&verdict_free_tools(engine).to_le_bytes());
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        file.write_all(&init)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, path)
            .with_context(|| format!("cannot rename {} to {}", tmp.display(), path.display()))?;
        // SAFETY: a shared read-write mapping of the file's first 16 bytes,
        // which exist; it stays valid after the descriptor is closed.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                wire::POLICY_GEN_LEN,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error())
                .with_context(|| format!("cannot map {}", path.display()));
        }
        Ok(PolicyGeneration {
            words: p.cast(),
            path: path.to_path_buf(),
        })
    }

    fn word(&self, i: usize) -> &AtomicU64 {
        // SAFETY: two aligned u64 words in a live mapping.
        unsafe { &*self.words.add(i) }
    }

    /// The generation in force.
    #[allow(dead_code)] // for `rampart status`
    pub fn generation(&self) -> u64 {
        self.word(0).load(Ordering::Acquire)
    }

    /// Publish a policy change: the verdict-free tools of `engine`, then
    /// the next generation.
    pub fn bump(&self, engine: &Engine) {
        self.word(1)
            .store(verdict_free_tools(engine), Ordering::Release);
        self.word(0).fetch_add(1, Ordering::AcqRel);
    }

    /// Where the file is (`RAMPART_POLICY_GEN`).
    #[allow(dead_code)] // for `rampart env` and `rampart status`
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for PolicyGeneration {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly what `create` mapped.
        unsafe { libc::munmap(self.words as *mut libc::c_void, wire::POLICY_GEN_LEN) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine(yaml: &str) -> Engine {
        Engine::from_texts(&[(PathBuf::from("p.yaml"), yaml.to_string())]).unwrap()
    }

    fn read_words(path: &Path) -> (u64, u64) {
        let b = std::fs::read(path).unwrap();
        assert_eq!(b.len(), wire::POLICY_GEN_LEN);
        (
            u64::from_le_bytes(b[..8].try_into().unwrap()),
            u64::from_le_bytes(b[8..].try_into().unwrap()),
        )
    }

    #[test]
    fn starts_at_one_and_bumps_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_for(&dir.path().join("collector.sock"));
        let open = engine("version: \"1\"\ndefault_action: allow\npolicies: []\n");
        let g = PolicyGeneration::create(&path, &open).unwrap();
        let all = wire::TOOL_EXEC | wire::TOOL_READ | wire::TOOL_WRITE | wire::TOOL_NET;
        assert_eq!(read_words(&path), (1, all));
        let strict = engine(
            "version: \"1\"\ndefault_action: allow\npolicies:\n  - name: no-ssh\n    match:\n      tool: read\n    rules:\n      - action: deny\n        when:\n          path_matches: [\"**/.ssh/**\"]\n",
        );
        g.bump(&strict);
        assert_eq!(read_words(&path), (2, 0));
        assert_eq!(g.generation(), 2);
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&path).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn a_stale_file_is_replaced_not_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_for(&dir.path().join("s.sock"));
        let e = engine("version: \"1\"\ndefault_action: deny\npolicies: []\n");
        let old = PolicyGeneration::create(&path, &e).unwrap();
        old.bump(&e);
        old.bump(&e);
        let new = PolicyGeneration::create(&path, &e).unwrap();
        assert_eq!(read_words(&path), (1, 0));
        // The old mapping still works (a process that mapped it is safe).
        assert_eq!(old.generation(), 3);
        assert_eq!(new.generation(), 1);
    }
}
