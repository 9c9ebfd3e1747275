//! `rampart audit verify` tells the truth about the file: a corrupt line
//! in the middle, a torn last record and a trail cut at its end each make
//! it exit 1 naming the file and line (or the cut); an untouched trail
//! verifies.

use std::path::PathBuf;

use rampart_e2e::*;

/// A trail of a few records, and its one file.
fn trail(sb: &Sandbox) -> PathBuf {
    assert_ok(&sb.run(&["bash", "-c", "cat /etc/hostname /etc/passwd >/dev/null"]));
    let files: Vec<PathBuf> = std::fs::read_dir(sb.audit())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

fn verify(sb: &Sandbox) -> (i32, String) {
    let o = sb.rampart().args(["audit", "verify"]).output().unwrap();
    (o.status.code().unwrap_or(-1), stdout(&o))
}

#[test]
fn an_untouched_trail_verifies() {
    let sb = Sandbox::new();
    trail(&sb);
    let (code, out) = verify(&sb);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("ok: "), "{out}");
}

#[test]
fn a_corrupt_line_in_the_middle_fails_naming_it() {
    let sb = Sandbox::new();
    let file = trail(&sb);
    let text = std::fs::read_to_string(&file).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    assert!(lines.len() >= 4, "{text}");
    lines[2].truncate(30);
    lines[2].push_str("GARBAGE");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let (code, out) = verify(&sb);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("{}:3:", file.display())), "{out}");
}

#[test]
fn a_torn_last_record_fails_naming_it_with_or_without_the_anchor() {
    for anchored in [true, false] {
        let sb = Sandbox::new();
        let file = trail(&sb);
        let text = std::fs::read_to_string(&file).unwrap();
        let whole = text.lines().count();
        let last = text.lines().last().unwrap().to_string();
        // The last record written again, only half: a write cut short.
        let mut torn = text.clone();
        torn.push_str(&last[..last.len() / 2]);
        std::fs::write(&file, torn).unwrap();
        if !anchored {
            std::fs::remove_file(sb.audit().join("audit.anchor")).unwrap();
        }
        let (code, out) = verify(&sb);
        assert_eq!(code, 1, "anchored {anchored}: {out}");
        assert!(
            out.contains(&format!("{}:{}:", file.display(), whole + 1)),
            "anchored {anchored}: {out}"
        );
    }
}

#[test]
fn a_trail_cut_at_its_end_fails() {
    let sb = Sandbox::new();
    let file = trail(&sb);
    let text = std::fs::read_to_string(&file).unwrap();
    let kept: Vec<&str> = text.lines().collect();
    std::fs::write(&file, kept[..kept.len() - 1].join("\n") + "\n").unwrap();
    let (code, out) = verify(&sb);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&file.display().to_string()), "{out}");
    assert!(out.contains("cut at its end"), "{out}");
}
