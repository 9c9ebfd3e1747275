//! The `#!` line of a script, read as the kernel reads it
//! (`fs/binfmt_script.c`): what an exec of the script really runs.
//!
//! An exec of a file that starts with `#!` loads the interpreter the line
//! names instead, with argv `[interpreter, argument?, name, argv[1..]]`,
//! where `argument` is the rest of the line (one string, inner blanks
//! kept) and `name` the name the exec was given. The kernel reads the first
//! [`HEAD`] bytes (NUL-padded when the file is shorter); a line with no
//! newline in them is cut there, unless nothing ends the interpreter's
//! name before the end (then the exec fails). A NUL ends the line's words
//! as a blank does. An interpreter may itself be a script, up to
//! [`DEPTH`] deep.
//!
//! Its users: the preload library's exec hooks, which record and decide
//! the file an exec really loads before it is made, and the library's ELF
//! classifier, which judges a script by its interpreter. `no_std`: never
//! allocates or panics. It reads no file: its callers hand it the bytes.

/// Bytes of a file the kernel reads for its `#!` line (`BINPRM_BUF_SIZE`).
pub const HEAD: usize = 256;

/// How many interpreters deep an exec may go: the kernel hands a file to
/// a format handler at most six times (`exec_binprm`), so five scripts
/// may come before the program that runs them.
pub const DEPTH: usize = 5;

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

/// What the kernel reads of the file: the first [`HEAD`] bytes, padded
/// with NULs when the file is shorter.
#[derive(Clone, Copy)]
struct Buf<'h>(&'h [u8]);

impl<'h> Buf<'h> {
    fn at(&self, i: usize) -> u8 {
        self.0.get(i).copied().unwrap_or(0)
    }

    /// The first index in `from..to` whose byte is not a blank.
    fn non_blank(&self, from: usize, to: usize) -> Option<usize> {
        (from..to).find(|&i| !blank(self.at(i)))
    }

    /// The first index in `from..to` whose byte ends a word: a blank or a
    /// NUL.
    fn terminator(&self, from: usize, to: usize) -> Option<usize> {
        (from..to).find(|&i| {
            let b = self.at(i);
            blank(b) || b == 0
        })
    }

    /// `from..to`, cut at its first NUL (the kernel copies C strings).
    fn string(&self, from: usize, to: usize) -> &'h [u8] {
        let all: &'h [u8] = self.0;
        let to = to.min(all.len());
        let s = &all[from.min(to)..to];
        &s[..s.iter().position(|&b| b == 0).unwrap_or(s.len())]
    }
}

/// The `#!` line of a file whose first bytes are `head` (only the first
/// [`HEAD`] are looked at); `None` when the kernel would not run the file
/// as a script (no `#!`, no interpreter named, or an interpreter's name
/// that may go on past the bytes read).
pub fn line(head: &[u8]) -> Option<Line<'_>> {
    let buf = Buf(&head[..head.len().min(HEAD)]);
    if buf.0.len() < 2 || &buf.0[..2] != b"#!" {
        return None;
    }
    // The kernel's `buf_end`: the last byte is never part of the line.
    let last = HEAD - 1;
    let mut end = match (0..HEAD).find(|&i| buf.at(i) == b'\n') {
        Some(newline) => newline,
        None => {
            // No newline: the name must end before the bytes read do.
            let name = buf.non_blank(2, last)?;
            buf.terminator(name, last)?;
            last
        }
    };
    while end > 2 && blank(buf.at(end - 1)) {
        end -= 1;
    }
    let name = buf.non_blank(2, end).filter(|&n| n < end)?;
    let sep = buf.terminator(name, end);
    let interpreter = buf.string(name, sep.unwrap_or(end));
    if interpreter.is_empty() {
        return None;
    }
    let argument = match sep {
        Some(sep) if buf.at(sep) != 0 => buf
            .non_blank(sep, end)
            .map(|a| buf.string(a, end))
            .filter(|a| !a.is_empty()),
        _ => None,
    };
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
        // The kernel's last byte is not part of the line.
        assert_eq!(l.argument.unwrap().len(), HEAD - 1 - 10);
        let mut name = b"#!/".to_vec();
        name.resize(400, b'b');
        assert_eq!(line(&name), None);
    }

    #[test]
    fn a_name_ended_by_blanks_or_a_nul_before_the_end_is_not_cut() {
        for fill in [b' ', b'\t'] {
            let mut l = b"#!/usr/bin/perl".to_vec();
            l.resize(400, fill);
            l.push(b'\n');
            assert_eq!(parts(&l), Some((&b"/usr/bin/perl"[..], None)), "{fill}");
        }
        let mut nul = b"#!/usr/bin/perl\0".to_vec();
        nul.resize(400, b'x');
        assert_eq!(parts(&nul), Some((&b"/usr/bin/perl"[..], None)));
        // A NUL ends the argument too, and a short file is NUL-padded.
        assert_eq!(
            parts(b"#!/bin/sh -e\0junk\n"),
            Some((&b"/bin/sh"[..], Some(&b"-e"[..])))
        );
        assert_eq!(parts(b"#!/bin/sh"), Some((&b"/bin/sh"[..], None)));
    }
}
