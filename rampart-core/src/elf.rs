//! ELF classification, the one reader both sides use: whether the preload
//! library can watch a program. It cannot in a static ELF binary (no
//! `PT_INTERP`: the loader never maps the library into it) or in a Go
//! binary (its runtime makes system calls itself, not through libc). The
//! preload library asks at every exec (from a stack buffer); `rampart run`
//! asks before it picks a backend (`backend::inspect`).
//!
//! Reads the ELF header and program headers from the first bytes of the
//! file (`head`), and through `read_at` program headers and notes that lie
//! past them. A Go binary is known by its `Go` build-id note
//! (`NT_GO_BUILDID`, in a `PT_NOTE` segment near the start of the file) or,
//! when it was linked without one (`-ldflags=-buildid=`), by the Go
//! section names (`.go.buildinfo`, `.note.go.buildid`) in the section name
//! table, read in chunks of at most [`CHUNK`] bytes.
//!
//! `no_std`: never allocates, never panics, and reads a bounded amount
//! whatever the file says. It knows nothing of scripts, permissions or
//! `PATH`: its callers do.

/// What an exec target is, as far as the preload library is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Not an ELF file this reader understands (scripts, other formats,
    /// big-endian ELF): its caller decides.
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

/// Bytes of the file a caller should pass as `head` (more is fine, less
/// costs `read_at` calls).
pub const HEAD: usize = 4096;
/// The largest read made through `read_at` at once.
pub const CHUNK: usize = 1024;
/// The most of the section name table that is searched.
const NAMES_MAX: u64 = 64 * 1024;
const PT_INTERP: u32 = 3;
const PT_NOTE: u32 = 4;
const NT_GO_BUILDID: u32 = 4;

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
    let mut interp = false;
    let mut go = false;
    let Some(wide) = segments(head, &mut read_at, |p_type, offset, filesz, read_at| {
        match p_type {
            PT_INTERP => interp = true,
            PT_NOTE if !go => go = has_go_note(head, offset, filesz, read_at),
            _ => {}
        }
        true
    }) else {
        return Kind::Other;
    };
    if go || go_section_names(head, wide, &mut read_at) {
        Kind::Go
    } else if interp {
        Kind::Dynamic
    } else {
        Kind::Static
    }
}

/// The program interpreter an ELF file names (`PT_INTERP`, the dynamic
/// loader the kernel loads with it), read into `out`, without its NUL;
/// `None` for a static program, a file that is not ELF, or a name longer
/// than `out`.
pub fn interpreter<'o>(
    head: &[u8],
    mut read_at: impl FnMut(u64, &mut [u8]) -> usize,
    out: &'o mut [u8],
) -> Option<&'o [u8]> {
    let mut len = None;
    segments(head, &mut read_at, |p_type, offset, filesz, read_at| {
        if p_type != PT_INTERP {
            return true;
        }
        let Some(name) = usize::try_from(filesz).ok().and_then(|n| out.get_mut(..n)) else {
            return false;
        };
        let got = match (offset as usize)
            .checked_add(name.len())
            .and_then(|end| head.get(offset as usize..end))
        {
            Some(b) => {
                name.copy_from_slice(b);
                name.len()
            }
            None => read_at(offset, name),
        };
        let name = &name[..got];
        len = Some(name.iter().position(|&b| b == 0).unwrap_or(name.len()));
        false
    })?;
    len.map(|n| &out[..n])
}

/// Calls `each(p_type, offset, filesz, read_at)` for the program headers of
/// the ELF file whose first bytes are `head`, until it answers `false`;
/// whether the file is 64-bit, or `None` when it is not a little-endian ELF
/// file.
fn segments<R: FnMut(u64, &mut [u8]) -> usize>(
    head: &[u8],
    read_at: &mut R,
    mut each: impl FnMut(u32, u64, u64, &mut R) -> bool,
) -> Option<bool> {
    if head.len() < 52 || head[..4] != *b"\x7fELF" || head[5] != 1 {
        return None; // not ELF, or big-endian
    }
    let wide = match head[4] {
        1 => false,
        2 => true,
        _ => return None,
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
        return None;
    }
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
        if !each(p_type, offset, filesz, read_at) {
            break;
        }
    }
    Some(wide)
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

/// Does the section name table hold one of Go's section names? For Go
/// binaries linked without a build id note.
fn go_section_names(
    head: &[u8],
    wide: bool,
    read_at: &mut impl FnMut(u64, &mut [u8]) -> usize,
) -> bool {
    let (shoff, shentsize, shnum, shstrndx) = if wide {
        (
            u64_at(head, 40),
            u16_at(head, 58),
            u16_at(head, 60),
            u16_at(head, 62),
        )
    } else {
        (
            u64::from(u32_at(head, 32)),
            u16_at(head, 46),
            u16_at(head, 48),
            u16_at(head, 50),
        )
    };
    if shoff == 0 || shstrndx >= shnum || usize::from(shentsize) < if wide { 64 } else { 40 } {
        return false;
    }
    let mut shdr = [0u8; 64];
    let len = usize::from(shentsize).min(shdr.len());
    let Some(at) = u64::from(shstrndx)
        .checked_mul(u64::from(shentsize))
        .and_then(|o| o.checked_add(shoff))
    else {
        return false;
    };
    if read_at(at, &mut shdr[..len]) < len {
        return false;
    }
    let (offset, size) = if wide {
        (u64_at(&shdr, 24), u64_at(&shdr, 32))
    } else {
        (u64::from(u32_at(&shdr, 16)), u64::from(u32_at(&shdr, 20)))
    };
    // Every name in the table follows a NUL (the table starts with one).
    const NAMES: [&[u8]; 2] = [b"\0.go.buildinfo\0", b"\0.note.go.buildid\0"];
    const OVERLAP: usize = 17; // the longest name, less one byte
    let mut chunk = [0u8; CHUNK];
    let mut kept = 0; // bytes carried over from the last chunk
    let mut done = 0u64;
    let size = size.min(NAMES_MAX);
    while done < size {
        let want = ((size - done) as usize).min(CHUNK - kept);
        let Some(from) = offset.checked_add(done) else {
            return false;
        };
        let got = read_at(from, &mut chunk[kept..kept + want]);
        if got == 0 {
            return false;
        }
        let seen = kept + got;
        if NAMES
            .iter()
            .any(|n| chunk[..seen].windows(n.len()).any(|w| w == *n))
        {
            return true;
        }
        done += got as u64;
        kept = OVERLAP.min(seen);
        chunk.copy_within(seen - kept..seen, 0);
    }
    false
}

#[cfg(all(test, feature = "full"))]
mod tests {
    use super::*;

    fn kind_of(bytes: &[u8]) -> Kind {
        let head = &bytes[..bytes.len().min(HEAD)];
        classify(head, |off, out| {
            let Some(rest) = usize::try_from(off).ok().and_then(|o| bytes.get(o..)) else {
                return 0;
            };
            let n = rest.len().min(out.len());
            out[..n].copy_from_slice(&rest[..n]);
            n
        })
    }

    #[test]
    fn system_programs_are_dynamic_and_text_is_other() {
        assert_eq!(kind_of(&std::fs::read("/bin/true").unwrap()), Kind::Dynamic);
        assert_eq!(kind_of(b"#!/bin/sh\necho hi\n"), Kind::Other);
        assert_eq!(kind_of(b""), Kind::Other);
    }

    #[test]
    fn a_go_section_name_past_a_chunk_boundary_is_found() {
        // A dynamic ELF whose only Go mark is its section names: the name
        // table is padded so that `.note.go.buildid` straddles two chunks.
        let mut elf = std::fs::read("/bin/true").unwrap();
        assert_eq!(kind_of(&elf), Kind::Dynamic);
        let wide = elf[4] == 2;
        assert!(wide, "the test builds a 64-bit table");
        let mut names = vec![0u8; CHUNK - 5];
        names.extend_from_slice(b".note.go.buildid\0");
        let names_at = elf.len() as u64;
        elf.extend_from_slice(&names);
        // Two section headers: the null one and the name table.
        let shoff = elf.len() as u64;
        elf.extend_from_slice(&[0u8; 64]);
        let mut strtab = [0u8; 64];
        strtab[4..8].copy_from_slice(&3u32.to_le_bytes()); // SHT_STRTAB
        strtab[24..32].copy_from_slice(&names_at.to_le_bytes());
        strtab[32..40].copy_from_slice(&(names.len() as u64).to_le_bytes());
        elf.extend_from_slice(&strtab);
        elf[40..48].copy_from_slice(&shoff.to_le_bytes());
        elf[58..60].copy_from_slice(&64u16.to_le_bytes());
        elf[60..62].copy_from_slice(&2u16.to_le_bytes());
        elf[62..64].copy_from_slice(&1u16.to_le_bytes());
        assert_eq!(kind_of(&elf), Kind::Go);
        // The same table without the name: not Go.
        let at = names_at as usize + CHUNK - 5;
        elf[at + 1] = b'x';
        assert_eq!(kind_of(&elf), Kind::Dynamic);
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
            // Past the head, a file of 0xff bytes: sizes and offsets read
            // there are absurd, and must stay harmless.
            let _ = classify(&h, |off, out| {
                let n = if off < 1 << 16 { out.len() } else { 0 };
                out[..n].fill(0xff);
                n
            });
        }
    }

    fn interpreter_of(path: &str) -> Option<Vec<u8>> {
        use std::os::unix::fs::FileExt;
        let file = std::fs::File::open(path).unwrap();
        let mut head = [0u8; HEAD];
        let n = file.read_at(&mut head, 0).unwrap();
        let mut out = [0u8; 256];
        interpreter(
            &head[..n],
            |off, buf| file.read_at(buf, off).unwrap_or(0),
            &mut out,
        )
        .map(<[u8]>::to_vec)
    }

    #[test]
    fn a_dynamic_program_names_its_loader_and_a_script_none() {
        let loader = interpreter_of("/bin/true").expect("/bin/true is dynamically linked");
        assert!(
            loader.starts_with(b"/lib"),
            "{}",
            String::from_utf8_lossy(&loader)
        );
        assert!(std::path::Path::new(std::str::from_utf8(&loader).unwrap()).exists());
        let script = std::env::temp_dir().join(format!("elf-script-{}", std::process::id()));
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        assert_eq!(interpreter_of(script.to_str().unwrap()), None);
        let _ = std::fs::remove_file(&script);
    }
}
