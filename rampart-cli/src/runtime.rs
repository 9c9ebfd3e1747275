//! Where a `rampart serve` lives and how others find it: the socket
//! (`$XDG_RUNTIME_DIR/rampart/rampart.sock`, else `~/.rampart/run/rampart.sock`),
//! its private directory (0700), and the state file beside the socket that
//! says which pid serves it, in which mode, from which policy.
//!
//! It never starts or stops anything itself.

use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

/// The default socket of `rampart serve`.
pub fn default_socket() -> PathBuf {
    if let Some(d) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("rampart/rampart.sock");
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/".into());
    PathBuf::from(home).join(".rampart/run/rampart.sock")
}

/// The state file that goes with a socket.
pub fn state_file(socket: &Path) -> PathBuf {
    socket.with_extension("json")
}

/// What a running serve says about itself.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct State {
    pub pid: i32,
    pub mode: String,
    pub socket: PathBuf,
    pub audit_dir: PathBuf,
    pub policy: String,
    pub started: String,
    /// The policy in force: the generation the serve published (2 at
    /// start, +2 per reload), when it was loaded, and how many policies it
    /// holds. Rewritten at every reload, so `rampart status` shows what is
    /// in force, not what was loaded at start.
    #[serde(default)]
    pub policy_generation: u64,
    #[serde(default)]
    pub policy_loaded: String,
    #[serde(default)]
    pub policies: usize,
    /// The last reload that failed (the previous policy stayed in force).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reload_error: Option<String>,
}

impl State {
    pub fn read(socket: &Path) -> Option<State> {
        let text = std::fs::read_to_string(state_file(socket)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Written whole under a temporary name, then renamed into place.
    pub fn write(&self) -> Result<()> {
        let path = state_file(&self.socket);
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(self)?)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("cannot write {}", path.display()))
    }
}

/// Make the socket's directory: created 0700 when missing; refused when it
/// belongs to another user or others can write to it.
pub fn private_dir(socket: &Path) -> Result<()> {
    let dir = socket
        .parent()
        .context("the socket path has no directory")?;
    if !dir.exists() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    let meta = std::fs::metadata(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    // SAFETY: geteuid cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        bail!(
            "{} belongs to uid {}, not to you (uid {me}): refusing to use it",
            dir.display(),
            meta.uid()
        );
    }
    if meta.mode() & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot make {} private", dir.display()))?;
    }
    Ok(())
}

/// Whether something accepts connections on `socket` right now.
pub fn listening(socket: &Path) -> bool {
    // A SOCK_SEQPACKET listener refuses a stream connect with EPROTOTYPE,
    // which still proves a live listener; a stale socket gives ECONNREFUSED.
    match UnixStream::connect(socket) {
        Ok(_) => true,
        Err(e) => e.raw_os_error() == Some(libc::EPROTOTYPE),
    }
}

/// Remove a socket left behind by a serve that was killed.
pub fn remove_stale(socket: &Path) -> io::Result<()> {
    match std::fs::remove_file(socket) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => {
            let _ = std::fs::remove_file(state_file(socket));
            Ok(())
        }
    }
}

/// The running serve at the default socket, if one listens.
pub fn running_serve() -> Option<State> {
    let socket = default_socket();
    if !listening(&socket) {
        return None;
    }
    State::read(&socket)
}
