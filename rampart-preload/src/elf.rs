//! Which executables the library cannot watch: static ELF binaries (no
//! `PT_INTERP`: the loader never maps the library into them) and Go
//! binaries (they make their system calls themselves, not through libc),
//! recognised from the first 4 KiB of the file, read with `pread` into a
//! stack buffer: the ELF header, the program headers and, for Go, the
//! `Go` build-id note (`NT_GO_BUILDID`) that the Go linker puts in a
//! `PT_NOTE` segment near the start of the file. A `#!` script is judged
//! by its interpreter (one level).
//!
//! Used by the exec hooks to run such a target under the trace backend.
//! Never allocates, locks or panics; reads at most a few KiB per exec.

use libc::c_int;

use crate::sys;

/// What an exec target is, as far as the library is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Not an ELF file we can read (scripts with a watchable interpreter,
    /// unreadable files, other formats): exec it as usual.
    Other,
    /// Dynamically linked through the loader: the library is preloaded.
    Dynamic,
    /// No program interpreter: the library never loads.
    Static,
    /// A Go binary (static or cgo): system calls bypass libc.
    Go,
}

impl Kind {
    /// Would the library miss the calls of this program?
    pub fn unwatchable(self) -> bool {
        matches!(self, Kind::Static | Kind::Go)
    }
}

const HEAD: usize = 4096;
const PT_INTERP: u32 = 3;
const PT_NOTE: u32 = 4;
const NT_GO_BUILDID: u32 = 4;

/// Classify the file at `path` (NUL-terminated, relative to the cwd).
pub fn classify_path(path: *const u8) -> Kind {
    classify_at(path, 1)
}

fn classify_at(path: *const u8, shebang_depth: u8) -> Kind {
    // SAFETY: a NUL-terminated path; the kernel validates it.
    let fd = match unsafe {
        sys::raw(
            libc::SYS_openat,
            libc::AT_FDCWD as usize,
            path as usize,
            (libc::O_RDONLY | libc::O_CLOEXEC) as usize,
            0,
        )
    } {
        Ok(fd) => fd as c_int,
        Err(_) => return Kind::Other,
    };
    let mut head = [0u8; HEAD];
    let n = pread(fd, &mut head, 0);
    let kind = if head[..n].starts_with(b"#!") {
        interpreter_kind(&head[..n], shebang_depth)
    } else {
        classify(&head[..n], |off, out| pread(fd, out, off))
    };
    sys::close(fd);
    kind
}

/// The kind of a script's interpreter (`#!/path args`).
fn interpreter_kind(head: &[u8], depth: u8) -> Kind {
    if depth == 0 {
        return Kind::Other;
    }
    let line = head[2..].split(|&b| b == b'\n').next().unwrap_or(&[]);
    let line = trim_start(line);
    let end = line
        .iter()
        .position(|&b| b == b' ' || b == b'\t' || b == b'\r')
        .unwrap_or(line.len());
    let interp = &line[..end];
    let mut path = [0u8; 256];
    if interp.is_empty() || interp.len() >= path.len() {
        return Kind::Other;
    }
    path[..interp.len()].copy_from_slice(interp);
    match classify_at(path.as_ptr(), depth - 1) {
        k @ (Kind::Static | Kind::Go) => k,
        _ => Kind::Other,
    }
}

fn trim_start(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|&c| c != b' ' && c != b'\t')
        .unwrap_or(b.len());
    &b[start..]
}

fn pread(fd: c_int, out: &mut [u8], off: u64) -> usize {
    // SAFETY: `out` is valid for its length.
    unsafe {
        sys::raw(
            libc::SYS_pread64,
            fd as usize,
            out.as_mut_ptr() as usize,
            out.len(),
            off as usize,
        )
    }
    .unwrap_or(0)
}

/// Little-endian field readers that never panic (0 when out of range).
fn u16_at(b: &[u8], at: usize) -> u16 {
    b.get(at..at + 2)
        .map_or(0, |s| u16::from_le_bytes([s[0], s[1]]))
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .map_or(0, |s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8).map_or(0, |s| {
        let mut w = [0u8; 8];
        w.copy_from_slice(s);
        u64::from_le_bytes(w)
    })
}

/// Classify an ELF file from its first bytes `head`; `read_at(offset,
/// out)` reads more of the file (notes that lie past `head`).
pub fn classify(head: &[u8], mut read_at: impl FnMut(u64, &mut [u8]) -> usize) -> Kind {
    if head.len() < 52 || head[..4] != *b"\x7fELF" || head[5] != 1 {
        return Kind::Other; // not ELF, or big-endian
    }
    let wide = match head[4] {
        1 => false,
        2 => true,
        _ => return Kind::Other,
    };
    let (phoff, phentsize, phnum) = if wide {
        (u64_at(head, 32), u16_at(head, 54), u16_at(head, 56))
    } else {
        (
            u64::from(u32_at(head, 28)),
            u16_at(head, 42),
            u16_at(head, 44),
        )
    };
    let phentsize = phentsize as usize;
    if phentsize < if wide { 56 } else { 32 } {
        return Kind::Other;
    }
    let mut interp = false;
    let mut go = false;
    let mut phdr = [0u8; 64];
    for i in 0..phnum.min(128) as usize {
        let Some(at) = (phoff as usize).checked_add(i * phentsize) else {
            break;
        };
        let len = phentsize.min(phdr.len());
        let got = match at.checked_add(len).and_then(|end| head.get(at..end)) {
            Some(b) => {
                phdr[..len].copy_from_slice(b);
                len
            }
            None => read_at(at as u64, &mut phdr[..len]),
        };
        if got < len {
            break;
        }
        let p_type = u32_at(&phdr, 0);
        let (offset, filesz) = if wide {
            (u64_at(&phdr, 8), u64_at(&phdr, 32))
        } else {
            (u64::from(u32_at(&phdr, 4)), u64::from(u32_at(&phdr, 16)))
        };
        match p_type {
            PT_INTERP => interp = true,
            PT_NOTE if !go => go = has_go_note(head, offset, filesz, &mut read_at),
            _ => {}
        }
    }
    if go {
        Kind::Go
    } else if interp {
        Kind::Dynamic
    } else {
        Kind::Static
    }
}

/// Does the note segment at `offset` (of `filesz` bytes) hold a Go build id?
fn has_go_note(
    head: &[u8],
    offset: u64,
    filesz: u64,
    read_at: &mut impl FnMut(u64, &mut [u8]) -> usize,
) -> bool {
    let mut local = [0u8; 512];
    let size = (filesz as usize).min(local.len());
    let start = usize::try_from(offset).unwrap_or(usize::MAX);
    let notes: &[u8] = match start.checked_add(size).and_then(|end| head.get(start..end)) {
        Some(b) => b,
        None => {
            let n = read_at(offset, &mut local[..size]);
            &local[..n]
        }
    };
    let mut at = 0;
    while at + 12 <= notes.len() {
        let namesz = u32_at(notes, at) as usize;
        let descsz = u32_at(notes, at + 4) as usize;
        let ty = u32_at(notes, at + 8);
        if namesz > notes.len() || descsz > notes.len() {
            break; // a size no note of this segment can have
        }
        let name = notes.get(at + 12..at + 12 + namesz).unwrap_or(&[]);
        if ty == NT_GO_BUILDID && name.starts_with(b"Go\0") {
            return true;
        }
        at += 12 + namesz.next_multiple_of(4) + descsz.next_multiple_of(4);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};
    use std::process::Command;

    fn kind_of(p: &Path) -> Kind {
        let mut c = p.as_os_str().as_encoded_bytes().to_vec();
        c.push(0);
        classify_path(c.as_ptr())
    }

    fn compile_c(dir: &Path, extra: &[&str]) -> PathBuf {
        let src = dir.join("probe.c");
        std::fs::write(&src, "int main(void) { return 0; }\n").unwrap();
        let out = dir.join(format!("probe{}", extra.join("")));
        let st = Command::new("gcc")
            .args(extra)
            .arg("-o")
            .arg(&out)
            .arg(&src)
            .status()
            .expect("run gcc");
        assert!(st.success(), "gcc {extra:?} failed");
        out
    }

    #[test]
    fn a_static_c_binary_is_static_and_a_dynamic_one_dynamic() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(kind_of(&compile_c(dir.path(), &["-static"])), Kind::Static);
        assert_eq!(
            kind_of(&compile_c(dir.path(), &["-static-pie"])),
            Kind::Static
        );
        assert_eq!(kind_of(&compile_c(dir.path(), &[])), Kind::Dynamic);
        assert_eq!(kind_of(Path::new("/bin/true")), Kind::Dynamic);
        assert_eq!(kind_of(Path::new("/bin/sh")), Kind::Dynamic);
    }

    #[test]
    fn scripts_are_judged_by_their_interpreter() {
        let dir = tempfile::tempdir().unwrap();
        let stat = compile_c(dir.path(), &["-static"]);
        let s1 = dir.path().join("to-static");
        std::fs::write(&s1, format!("#! {} -x\necho\n", stat.display())).unwrap();
        assert_eq!(kind_of(&s1), Kind::Static);
        let s2 = dir.path().join("to-sh");
        std::fs::write(&s2, "#!/bin/sh\necho\n").unwrap();
        assert_eq!(kind_of(&s2), Kind::Other);
        assert_eq!(kind_of(&dir.path().join("missing")), Kind::Other);
        assert_eq!(kind_of(Path::new("/etc/hostname")), Kind::Other);
    }

    #[test]
    fn go_binaries_are_recognised_static_or_not() {
        let Ok(v) = Command::new("go").arg("version").output() else {
            rampart_e2e::skip("no Go toolchain (install golang-go) to build a Go binary");
            return;
        };
        assert!(v.status.success());
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("main.go"),
            "package main\nimport \"os\"\nfunc main() { os.Exit(0) }\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("go.mod"), "module probe\ngo 1.19\n").unwrap();
        let out = dir.path().join("goprobe");
        let st = Command::new("go")
            .args(["build", "-o"])
            .arg(&out)
            .arg(".")
            .current_dir(dir.path())
            .env("CGO_ENABLED", "0")
            .env("GOFLAGS", "-mod=mod")
            .env("GOCACHE", dir.path().join("cache"))
            .env("GOPATH", dir.path().join("gopath"))
            .status()
            .unwrap();
        assert!(st.success(), "go build failed");
        assert_eq!(kind_of(&out), Kind::Go);
    }

    #[test]
    fn garbage_never_panics() {
        let mut s: u64 = 0x2545_F491_4F6C_DD1D;
        let mut head = std::fs::read("/bin/true").unwrap();
        head.truncate(HEAD);
        for _ in 0..20_000 {
            let mut h = head.clone();
            for _ in 0..4 {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                let at = (s as usize) % h.len();
                h[at] = (s >> 32) as u8;
            }
            h.truncate((s as usize >> 8) % HEAD + 1);
            let _ = classify(&h, |_, out| {
                out.fill(0xff);
                out.len()
            });
        }
    }
}
