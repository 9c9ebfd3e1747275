//! The destructive commands every generated policy denies, and whether
//! the engine reads a command as one of them.
//!
//! Owns the list. The learner never learns such a command and the replay
//! never expects one to be admitted. It never reads files and never changes
//! the list at run time.

use super::model;

/// Destructive commands the policy always denies (Rampart command globs).
/// Deny rules also match the engine's equivalent spellings of a command
/// (`/bin/rm -fr /`, `rm -r -f /` as `rm -rf /`, `/sbin/mkfs.ext4` as
/// `mkfs.ext4`), so those need no pattern of their own.
pub const DESTRUCTIVE_COMMANDS: &[&str] = &[
    "rm -rf /",
    "rm -rf / *",
    // `/?`, not `/*`: a Rampart glob ending in `*` is a prefix, and would
    // deny every `rm -rf /absolute/path`; `?` matches the `*` itself.
    "rm -rf /?",
    "rm -rf --no-preserve-root *",
    "rm --no-preserve-root *",
    "rm -rf ~",
    "rm -rf ~/",
    "rm -rf $HOME",
    "rm -rf /home",
    "rm -rf /root",
    "rm -rf /etc",
    "rm -rf /usr",
    "rm -rf /var",
    "rm -rf /boot",
    "rm -rf /lib",
    "rm -rf /bin",
    "sudo rm -rf /",
    "mkfs*",
    "sudo mkfs*",
    "mke2fs *",
    "mkswap *",
    "wipefs *",
    "fdisk *",
    "sfdisk *",
    "gdisk *",
    "parted *",
    "dd **of=/dev/sd**",
    "dd **of=/dev/nvme**",
    "dd **of=/dev/vd**",
    "dd **of=/dev/hd**",
    "dd **of=/dev/mmcblk**",
    ":(){ :|:& };:",
    "chmod -R 777 /",
    "chown -R * /",
    "shutdown",
    "shutdown *",
    "reboot",
    "reboot *",
    "halt",
    "halt *",
    "poweroff",
    "poweroff *",
];

/// Whether the deny list refuses `command`, as the engine reads it (with
/// its equivalent spellings).
pub(super) fn is_destructive(command: &str) -> bool {
    static ENGINE: std::sync::OnceLock<crate::policy::Engine> = std::sync::OnceLock::new();
    let engine = ENGINE.get_or_init(|| {
        let patterns: Vec<String> = DESTRUCTIVE_COMMANDS
            .iter()
            .map(|p| format!("            - {}", model::quote(p)))
            .collect();
        let yaml = format!(
            "version: \"1\"\ndefault_action: allow\npolicies:\n  - name: d\n    match:\n      tool: [exec]\n    rules:\n      - action: deny\n        when:\n          command_matches:\n{}\n",
            patterns.join("\n")
        );
        crate::policy::Engine::from_texts_with(
            &[(std::path::PathBuf::from("destructive"), yaml)],
            &crate::policy::LoadOptions { home: None },
        )
        .expect("built-in deny list loads")
    });
    engine
        .evaluate(&crate::policy::Request {
            tool: "exec",
            command: Some(command),
            ..crate::policy::Request::default()
        })
        .action
        == crate::policy::Action::Deny
}
