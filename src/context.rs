//! What every command starts from: where it runs, which settings file, and the loaded,
//! validated project. Commands that act call `load()`, which refuses invalid settings with
//! exit 78 before anything is created.

use crate::config::{self, Config, EnvFile};
use crate::error::{code, Failure};
use crate::project::{self, Dirs, Identity, Project};
use crate::ui;
use anyhow::Result;
use std::path::{Path, PathBuf};

pub struct Ctx {
    pub cwd: PathBuf,
    pub env_file: Option<PathBuf>,
    pub strict: bool,
    pub wait: bool,
    pub dirs: Dirs,
}

/// A project whose settings are valid.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub project: Project,
    pub config: Config,
    pub id: Identity,
    pub warnings: Vec<config::Warning>,
}

impl Ctx {
    pub fn new(directory: Option<&Path>, env_file: Option<PathBuf>, strict: bool) -> Result<Ctx> {
        let base = std::env::current_dir().map_err(|e| {
            Failure::new(
                code::FAILURE,
                format!("the current folder cannot be read: {e}"),
            )
        })?;
        let cwd = match directory {
            Some(d) => {
                let d = base.join(d);
                d.canonicalize().map_err(|e| {
                    Failure::new(code::USAGE, format!("cannot use `-C {}`: {e}", d.display()))
                })?
            }
            None => base.canonicalize().unwrap_or(base),
        };
        Ok(Ctx {
            cwd,
            env_file,
            strict,
            wait: false,
            dirs: Dirs::from_env(),
        })
    }

    /// Takes the project's lock: one `up`/`stop`/`rm` at a time per project.
    pub fn lock(&self, loaded: &Loaded) -> Result<crate::lock::Lock> {
        crate::lock::Lock::acquire(
            &self.dirs.state,
            &loaded.id.slug,
            &format!("project {}", loaded.id.name),
            self.wait,
        )
    }

    /// A path as the user should read it: relative to where they are when it is below.
    pub fn show(&self, p: &Path) -> String {
        match p.strip_prefix(&self.cwd) {
            Ok(rel) if !rel.as_os_str().is_empty() => rel.display().to_string(),
            _ => p.display().to_string(),
        }
    }

    /// Finds the project (or reads `--env-file`), without validating it.
    pub fn project(&self) -> Result<Project> {
        if let Some(f) = &self.env_file {
            let path = self.cwd.join(f);
            let env = EnvFile::read(&path).map_err(|e| {
                Failure::config(format!("cannot read `{}`: {e}", self.show(&path)))
                    .hint("check the path given to `--env-file`")
            })?;
            return Ok(Project {
                dir: self.cwd.clone(),
                env_path: path,
                env,
            });
        }
        project::discover(&self.cwd, self.dirs.home.as_deref()).map_err(|nf| {
            let mut f = Failure::config("no tmpl project here: no `.env` with tmpl settings");
            for d in &nf.looked_in {
                f = f.detail(format!("looked in {}", d.join(".env").display()));
            }
            f.detail(format!(
                "a tmpl `.env` sets {}",
                config::validate::required_list()
            ))
            .hint("`tmpl init` writes a commented `.env` in this folder")
            .into()
        })
    }

    /// Finds, reads and validates the project; prints warnings; fails with exit 78 when the
    /// settings are invalid.
    pub fn load(&self) -> Result<Loaded> {
        let project = self.project()?;
        match config::validate(&project.env, &project.dir, self.strict) {
            Ok((config, report)) => {
                for w in &report.warnings {
                    ui::warn(format!("{}: {}", self.place(&project, w.line), w.message));
                }
                let id = project::identity(&project.dir, config.name.as_deref(), &self.dirs);
                Ok(Loaded {
                    project,
                    config,
                    id,
                    warnings: report.warnings,
                })
            }
            Err(report) => {
                for w in &report.warnings {
                    ui::warn(format!("{}: {}", self.place(&project, w.line), w.message));
                }
                Err(self.invalid(&project, &report).into())
            }
        }
    }

    pub fn place(&self, project: &Project, line: Option<usize>) -> String {
        let file = self.show(&project.env_path);
        match line {
            Some(l) => format!("{file}:{l}"),
            None => file,
        }
    }

    /// The error for invalid settings, one `-->` block per problem.
    pub fn invalid(&self, project: &Project, report: &config::Report) -> Failure {
        let file = self.show(&project.env_path);
        let n = report.problems.len();
        let mut f = Failure::config(format!(
            "`{file}` has {n} invalid setting{}",
            if n == 1 { "" } else { "s" }
        ));
        for p in &report.problems {
            let place = self.place(project, p.line);
            let what = match p.line {
                None => format!("{} (missing)", p.key),
                Some(l) => project
                    .env
                    .entries
                    .iter()
                    .find(|e| e.line == l)
                    .map(|e| e.raw.clone())
                    .or_else(|| p.value.clone())
                    .unwrap_or_else(|| p.key.clone()),
            };
            f = f.detail(format!("--> {place}  {}", crate::text::redact_url(&what)));
            let example = p
                .example
                .as_ref()
                .map(|e| format!(", e.g. `{e}`"))
                .unwrap_or_default();
            f = f.detail(format!("    expected {}{example}", p.expected));
        }
        f.hint("`tmpl validate` checks the file without creating anything")
    }
}
