//! The `#!` line of a script, read as the kernel reads it
//! (`fs/binfmt_script.c`): what an exec of the script really runs.
//!
//! An exec of a file that starts with `#!` loads the interpreter the line
//! names instead, with argv `[interpreter, argument?, name, argv[1..]]`,
//! where `argument` is the rest of the line (one string, inner blanks
//! kept) and `name` the name the exec was given. The kernel reads the first
//! [`HEAD`] bytes; a line with no newline in them is cut there, unless the
//! interpreter's name itself runs to the end (then the exec fails). An
//! interpreter may itself be a script, up to [`DEPTH`] deep.
//!
//! Its users: the preload library's exec hooks, which record and decide
//! the file an exec really loads before it is made, and the library's ELF
//! classifier, which judges a script by its interpreter. `no_std`: never
//! allocates or panics. It reads no file: its callers hand it the bytes.

/// Bytes of a file the kernel reads for its `#!` line (`BINPRM_BUF_SIZE`).
pub const HEAD: usize = 256;

/// How many interpreters deep an exec may go (the kernel's
/// `max_recursion_depth` less the exec itself).
pub const DEPTH: usize = 4;

/// A script's `#!` line: the interpreter's name and the argument that
/// follows it, if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Line<'h> {
    pub interpreter: &'h [u8],
    pub argument: Option<&'h [u8]>,
}

fn blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// The `#!` line of a file whose first bytes are `head` (only the first
/// [`HEAD`] are looked at); `None` when the file is not a script the kernel
/// would run (no `#!`, no interpreter named, or a name cut by the end of
/// the bytes read).
pub fn line(head: &[u8]) -> Option<Line<'_>> {
    let head = &head[..head.len().min(HEAD)];
    let rest = head.strip_prefix(b"#!")?;
    let (mut text, whole) = match rest.iter().position(|&b| b == b'\n') {
        Some(nl) => (&rest[..nl], true),
        None => (rest, false),
    };
    // What a NUL ends, the kernel never sees.
    if let Some(nul) = text.iter().position(|&b| b == 0) {
        text = &text[..nul];
    }
    while let [start @ .., last] = text {
        if !blank(*last) {
            break;
        }
        text = start;
    }
    let from = text.iter().position(|&b| !blank(b))?;
    let text = &text[from..];
    let end = text.iter().position(|&b| blank(b)).unwrap_or(text.len());
    if !whole && end == text.len() && head.len() == HEAD {
        // The interpreter's name may go on past what the kernel reads.
        return None;
    }
    let (interpreter, after) = text.split_at(end);
    let argument = after
        .iter()
        .position(|&b| !blank(b))
        .map(|start| &after[start..]);
    Some(Line {
        interpreter,
        argument,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(head: &[u8]) -> Option<(&[u8], Option<&[u8]>)> {
        line(head).map(|l| (l.interpreter, l.argument))
    }

    #[test]
    fn the_interpreter_and_its_one_argument_are_read_as_the_kernel_reads_them() {
        assert_eq!(parts(b"#!/bin/sh\necho"), Some((&b"/bin/sh"[..], None)));
        assert_eq!(
            parts(b"#! /usr/bin/env  python3 -u \t\nx"),
            Some((&b"/usr/bin/env"[..], Some(&b"python3 -u"[..])))
        );
        assert_eq!(
            parts(b"#!/usr/bin/perl -w"),
            Some((&b"/usr/bin/perl"[..], Some(&b"-w"[..])))
        );
        assert_eq!(
            parts(b"#!\t/bin/bash\t-e\n"),
            Some((&b"/bin/bash"[..], Some(&b"-e"[..])))
        );
    }

    #[test]
    fn no_interpreter_no_script() {
        assert_eq!(parts(b"\x7fELF"), None);
        assert_eq!(parts(b"#!"), None);
        assert_eq!(parts(b"#!   \n/bin/sh"), None);
        assert_eq!(parts(b" #!/bin/sh"), None);
    }

    #[test]
    fn a_line_longer_than_what_the_kernel_reads_is_cut_unless_the_name_is() {
        let mut long = b"#!/bin/sh ".to_vec();
        long.resize(400, b'a');
        let l = line(&long).unwrap();
        assert_eq!(l.interpreter, b"/bin/sh");
        assert_eq!(l.argument.unwrap().len(), HEAD - 10);
        let mut name = b"#!/".to_vec();
        name.resize(400, b'b');
        assert_eq!(line(&name), None);
    }
}
