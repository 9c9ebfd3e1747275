//! `rampart status` and `rampart env`: is a serve running, and the
//! variables that put a shell's children under its watch.

use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::{bail, Result};

use crate::backend::find_preload_library;
use crate::cmd::run::child_env_for;
use crate::runtime::{self, State};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Socket of the serve [default: as `rampart serve`].
    #[arg(long, value_name = "PATH")]
    pub socket: Option<PathBuf>,
}

pub fn status(args: Args) -> Result<i32> {
    let socket = args.socket.unwrap_or_else(runtime::default_socket);
    match (runtime::listening(&socket), State::read(&socket)) {
        (true, Some(s)) => {
            println!("rampart serve: running (pid {})", s.pid);
            println!("  mode:      {}", s.mode);
            println!("  socket:    {}", s.socket.display());
            println!("  policy:    {}", s.policy);
            println!(
                "  in force:  generation {}, {} polic{}, loaded {}",
                s.policy_generation,
                s.policies,
                if s.policies == 1 { "y" } else { "ies" },
                s.policy_loaded
            );
            if let Some(e) = &s.reload_error {
                println!("  reload:    {e}; the policy above stays in force");
            }
            println!("  audit dir: {}", s.audit_dir.display());
            println!("  since:     {}", s.started);
            Ok(0)
        }
        (true, None) => {
            println!(
                "something listens at {} but left no state file",
                socket.display()
            );
            Ok(1)
        }
        (false, _) => {
            println!(
                "rampart serve: not running (no listener at {})",
                socket.display()
            );
            Ok(1)
        }
    }
}

pub fn env(args: Args) -> Result<i32> {
    let socket = args.socket.unwrap_or_else(runtime::default_socket);
    let Some(state) = State::read(&socket).filter(|_| runtime::listening(&socket)) else {
        bail!(
            "no rampart serve listens at {}: start one with `rampart serve --background`",
            socket.display()
        );
    };
    let lib = find_preload_library()?;
    for (k, v) in child_env_for(Some(&lib), &socket, &state.mode, None) {
        println!("export {k}={}", sh_quote(&v));
    }
    Ok(0)
}

fn sh_quote(v: &OsString) -> String {
    rampart_core::event::shell_quote(&v.to_string_lossy())
}
