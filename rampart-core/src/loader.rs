//! The dynamic loader run as a program: `/lib64/ld-linux-x86-64.so.2
//! /usr/bin/perl -e ...` runs perl, though the file the kernel loads is the
//! loader. What program such an exec really runs, so that it is recorded
//! and decided as an exec of its own, `via` the loader, as a script's
//! interpreter is (`crate::shebang`).
//!
//! A loader is known by its file name (its own name, links resolved):
//! glibc's `ld-linux*.so*` and `ld64.so*`, musl's `ld-musl-*.so*`. The
//! options it reads before the program's name are glibc's and musl's
//! (`rtld.c`, `ldso/dynlink.c`): an unknown one is taken for the name, as
//! glibc takes it. `no_std`: never allocates or panics; it reads no file.

/// Options that take the next argument as their value.
const WITH_VALUE: &[&[u8]] = &[
    b"--library-path",
    b"--inhibit-rpath",
    b"--audit",
    b"--preload",
    b"--argv0",
    b"--glibc-hwcaps-prepend",
    b"--glibc-hwcaps-mask",
];

/// Options on their own.
const ALONE: &[&[u8]] = &[
    b"--list",
    b"--verify",
    b"--inhibit-cache",
    b"--list-tunables",
    b"--list-diagnostics",
    b"--help",
    b"--version",
];

/// Whether `file` (a file's own name) is a dynamic loader.
pub fn is_loader(file: &[u8]) -> bool {
    let name = file.rsplit(|&b| b == b'/').next().unwrap_or(file);
    let so = |b: &[u8]| b.windows(3).any(|w| w == b".so");
    (name.starts_with(b"ld-linux") || name.starts_with(b"ld64.") || name.starts_with(b"ld-musl-"))
        && so(name)
}

/// The program a loader run with `argv` (its own name first) runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run<'a> {
    /// Where the program's name is in `argv`.
    pub index: usize,
    /// The program's name as given.
    pub name: &'a [u8],
    /// The `argv[0]` it gets, when `--argv0` names one (else its name).
    pub argv0: Option<&'a [u8]>,
}

/// What a loader run with `argv` runs; `None` when no program is named.
pub fn program<'a>(argv: impl IntoIterator<Item = &'a [u8]>) -> Option<Run<'a>> {
    let mut argv0 = None;
    let mut args = argv.into_iter().enumerate().skip(1);
    while let Some((index, arg)) = args.next() {
        if WITH_VALUE.contains(&arg) {
            let value = args.next()?.1;
            if arg == b"--argv0" {
                argv0 = Some(value);
            }
        } else if !ALONE.contains(&arg) {
            return Some(Run {
                index,
                name: arg,
                argv0,
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loaders_are_known_by_name() {
        assert!(is_loader(b"/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"));
        assert!(is_loader(b"/lib/ld-musl-x86_64.so.1"));
        assert!(is_loader(b"/lib64/ld64.so.2"));
        assert!(!is_loader(b"/usr/bin/ld"));
        assert!(!is_loader(b"/usr/bin/ld.bfd"));
        assert!(!is_loader(b"/usr/bin/perl"));
    }

    #[test]
    fn the_program_comes_after_the_loaders_options() {
        let run = |a: &[&'static str]| program(a.iter().map(|s| s.as_bytes()));
        assert_eq!(
            run(&["ld.so", "/usr/bin/perl", "-e", "1"]),
            Some(Run {
                index: 1,
                name: b"/usr/bin/perl",
                argv0: None
            })
        );
        assert_eq!(
            run(&[
                "ld.so",
                "--inhibit-cache",
                "--library-path",
                "/x",
                "--argv0",
                "perl",
                "./p",
                "-e"
            ]),
            Some(Run {
                index: 6,
                name: b"./p",
                argv0: Some(b"perl")
            })
        );
        assert_eq!(run(&["ld.so", "--list"]), None);
        assert_eq!(run(&["ld.so", "--preload"]), None);
        assert_eq!(run(&["ld.so"]), None);
    }
}
