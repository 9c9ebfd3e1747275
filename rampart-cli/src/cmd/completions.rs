//! `rampart completions SHELL` and `rampart man`: the shell completion
//! script (clap_complete) and the man page (clap_mangen, roff), both made
//! from the same command definitions as `--help`, so they never drift from
//! the binary. `scripts/install.sh` installs the man page.

use std::io::Write;

use anyhow::Result;
use clap_complete::Shell;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The shell to complete for: `rampart completions bash >
    /// /etc/bash_completion.d/rampart`.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Print the completion script for `args.shell` of `command` (the whole CLI).
pub fn completions(args: Args, mut command: clap::Command) -> Result<i32> {
    let name = command.get_name().to_string();
    clap_complete::generate(args.shell, &mut command, name, &mut std::io::stdout());
    Ok(0)
}

/// Print the man page of `command`, with a section per subcommand (its
/// description and options).
pub fn man(command: clap::Command) -> Result<i32> {
    let mut out = Vec::new();
    let page = clap_mangen::Man::new(command.clone());
    page.render_title(&mut out)?;
    page.render_name_section(&mut out)?;
    page.render_synopsis_section(&mut out)?;
    page.render_description_section(&mut out)?;
    page.render_options_section(&mut out)?;
    // The commands, each pointing at its section below (clap_mangen's own
    // list names a page per command, rampart-run(1), which is not written).
    let subs: Vec<&clap::Command> = command
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .collect();
    writeln!(out, ".SH COMMANDS")?;
    for sub in &subs {
        writeln!(out, ".TP\n\\fBrampart {}\\fR", sub.get_name())?;
        if let Some(about) = sub.get_about() {
            writeln!(
                out,
                "{}; see \\fBRAMPART {}\\fR below.",
                roff_text(&about.to_string()),
                sub.get_name().to_uppercase()
            )?;
        }
    }
    for sub in subs {
        writeln!(out, ".SH \"RAMPART {}\"", sub.get_name().to_uppercase())?;
        let about = sub.get_long_about().or(sub.get_about());
        if let Some(text) = about {
            writeln!(out, "{}", roff_text(&text.to_string()))?;
        }
        let mut options = Vec::new();
        clap_mangen::Man::new(sub.clone()).render_options_section(&mut options)?;
        for line in String::from_utf8_lossy(&options).lines() {
            if !line.starts_with(".SH") {
                writeln!(out, "{line}")?;
            }
        }
    }
    page.render_version_section(&mut out)?;
    std::io::stdout().write_all(&out)?;
    Ok(0)
}

/// Plain text as roff: backslashes escaped, no line read as a request.
fn roff_text(text: &str) -> String {
    text.replace('\\', "\\e")
        .lines()
        .map(|l| {
            if l.starts_with('.') || l.starts_with('\'') {
                format!("\\&{l}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}
