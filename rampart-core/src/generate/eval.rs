//! The generator's view of the policy engine: loads a policy text with
//! [`crate::policy::Engine`] (strictly, as `rampart run` would) and asks it
//! about calls. The generator replays what it learned against what it
//! wrote, finds which new calls an existing policy already admits
//! (`--merge`) and probes a policy with calls it must refuse. This module
//! decides nothing itself.

use std::path::PathBuf;

use crate::policy::{Action, Engine, LoadOptions, Request};

/// A call to evaluate: the tool and the request values rules look at.
#[derive(Clone, Copy, Debug, Default)]
pub struct Query<'a> {
    pub tool: &'a str,
    pub command: Option<&'a str>,
    pub path: Option<&'a str>,
    pub url: Option<&'a str>,
    pub domain: Option<&'a str>,
    /// The project root `$PROJECT` stands for.
    pub project: Option<&'a str>,
}

/// A loaded policy.
pub struct Checker {
    engine: Engine,
}

impl Checker {
    /// Loads `text` (named `origin` in errors) with `~` meaning `home`.
    pub fn new(text: &str, origin: &str, home: Option<&str>) -> Result<Checker, String> {
        let options = LoadOptions {
            home: home.map(str::to_string),
        };
        Engine::from_texts_with(&[(PathBuf::from(origin), text.to_string())], &options)
            .map(|engine| Checker { engine })
            .map_err(|errors| {
                errors
                    .iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            })
    }

    /// The engine's verdict.
    pub fn decide(&self, q: &Query<'_>) -> Action {
        self.engine
            .evaluate(&Request {
                tool: q.tool,
                command: q.command,
                path: q.path,
                url: q.url,
                domain: q.domain,
                project: q.project,
                ..Request::default()
            })
            .action
    }

    /// Whether the call would run: `allow` or `watch`.
    pub fn admits(&self, q: &Query<'_>) -> bool {
        matches!(self.decide(q), Action::Allow | Action::Watch)
    }
}
