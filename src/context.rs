//! What every command starts from: where it runs, which settings file, how strictly to read
//! it, the user's folders and the drivers. Commands that act call `load()`, which refuses
//! invalid settings with exit 78 before anything is created, then hand the loaded project to
//! a `session`.

use crate::config::Grants;
use crate::driver::Registry;
use crate::error::{ExitStatus, Failure};
use crate::project::{AllAsked, Dirs, Finder, Granted, Loaded, Project};
use anyhow::Result;
use std::path::{Path, PathBuf};

pub struct Ctx {
    pub cwd: PathBuf,
    pub env_file: Option<PathBuf>,
    pub strict: bool,
    pub wait: bool,
    pub dirs: Dirs,
    /// The ways guests can exist (see `driver`).
    pub registry: Registry,
}

impl Ctx {
    /// A context for `cwd` itself, with these dirs and drivers (for callers that run tmpl's
    /// commands without a command line).
    pub fn at(cwd: PathBuf, dirs: Dirs, registry: Registry) -> Ctx {
        Ctx {
            cwd,
            env_file: None,
            strict: false,
            wait: false,
            dirs,
            registry,
        }
    }

    pub fn new(
        directory: Option<&Path>,
        env_file: Option<PathBuf>,
        strict: bool,
        registry: Registry,
    ) -> Result<Ctx> {
        let base = std::env::current_dir().map_err(|e| {
            Failure::new(
                ExitStatus::Failure,
                format!("the current folder cannot be read: {e}"),
            )
        })?;
        let cwd = match directory {
            Some(d) => {
                let d = base.join(d);
                d.canonicalize().map_err(|e| {
                    Failure::new(
                        ExitStatus::Usage,
                        format!("cannot use `-C {}`: {e}", d.display()),
                    )
                })?
            }
            None => base.canonicalize().unwrap_or(base),
        };
        let dirs = Dirs::from_env();
        dirs.keep_private();
        Ok(Ctx {
            cwd,
            env_file,
            strict,
            wait: false,
            dirs,
            registry,
        })
    }

    /// How this command finds and reads its project.
    pub fn finder(&self) -> Finder<'_> {
        Finder {
            cwd: &self.cwd,
            env_file: self.env_file.as_deref(),
            strict: self.strict,
            dirs: &self.dirs,
            drivers: &self.registry,
            granted: self,
        }
    }

    /// The project as approving it would make it: every `$VAR` its `.env` asks of tmpl's
    /// environment taken (`tmpl trust`, which shows them and records the grants).
    pub fn load_asking(&self) -> Result<Loaded> {
        Finder {
            granted: &AllAsked,
            ..self.finder()
        }
        .load()
    }

    /// Finds, reads and validates the project (see `Finder::load`).
    pub fn load(&self) -> Result<Loaded> {
        self.finder().load()
    }

    /// Finds the project without validating it.
    pub fn project(&self) -> Result<Project> {
        self.finder().project()
    }

    /// A path as the user should read it: relative to where they are when it is below.
    pub fn show(&self, p: &Path) -> String {
        self.finder().show(p)
    }

    /// The project's guest, opened to act on it (see `session::Session::open`).
    pub fn session<'a>(&'a self, loaded: &'a Loaded) -> Result<crate::session::Session<'a>> {
        crate::session::Session::open(loaded, &self.dirs, &self.registry, self.wait)
    }

    /// The project's guest, opened to look at it.
    pub fn look<'a>(&'a self, loaded: &'a Loaded) -> Result<crate::session::Session<'a>> {
        crate::session::Session::look(loaded, &self.dirs, &self.registry)
    }
}

/// A folder's `.env` takes from tmpl's environment what its approval granted, nothing else.
impl Granted for Ctx {
    fn grants(&self, dir: &Path) -> Grants {
        crate::trust::granted(&self.dirs.state, dir)
    }
}
