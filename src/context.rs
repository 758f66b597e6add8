//! What every command starts from: where it runs, which settings file, and the loaded,
//! validated project. Commands that act call `load()`, which refuses invalid settings with
//! exit 78 before anything is created.

use crate::backend::{Backend, Connect, Registry};
use crate::config::{self, Config, EnvFile, Problem, Report};
use crate::error::{ExitStatus, Failure};
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
    /// The ways guests can exist (see `backend`).
    pub registry: Registry,
}

/// A project whose settings are valid.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub project: Project,
    pub config: Config,
    pub id: Identity,
}

impl Loaded {
    /// A path from `.env` on the host: `~/` is the user's home, relative is the project's.
    pub fn host_path(&self, p: &Path, home: Option<&Path>) -> PathBuf {
        if let (Ok(rest), Some(h)) = (p.strip_prefix("~"), home) {
            return h.join(rest);
        }
        self.project.dir.join(p)
    }
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

    /// The project's guest, through the driver of its `INFRA_TYPE`.
    pub fn backend(&self, loaded: &Loaded, how: Connect) -> Result<Box<dyn Backend>> {
        self.registry
            .driver(loaded.config.infra_type)
            .open(loaded, &self.dirs, how)
    }

    /// Validates the project's settings: the general rules, then its driver's own.
    pub fn validate(&self, project: &Project) -> Result<(Config, Report), Report> {
        let (config, mut report) = config::validate(&project.env, &project.dir, self.strict)?;
        let rules = self.registry.driver(config.infra_type).validate(&config);
        if rules.is_empty() {
            return Ok((config, report));
        }
        for r in rules {
            let e = project.env.get(r.key);
            report.problems.push(Problem {
                line: e.map(|e| e.line),
                key: r.key.into(),
                value: e.map(|e| e.value.clone()),
                expected: r.expected,
                example: r.example,
            });
        }
        report
            .problems
            .sort_by_key(|p| p.line.unwrap_or(usize::MAX));
        Err(report)
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
        match self.validate(&project) {
            Ok((config, report)) => {
                for w in &report.warnings {
                    ui::warn(format!("{}: {}", self.place(&project, w.line), w.message));
                }
                let id = project::identity(&project.dir, config.name.as_deref(), &self.dirs);
                Ok(Loaded {
                    project,
                    config,
                    id,
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

    /// A registered project's settings, read quietly (for `ls`): `None` when they are gone or
    /// no longer valid.
    pub fn load_registered(&self, dir: &Path, env_file: &Path) -> Option<Loaded> {
        let env = EnvFile::read(env_file).ok()?;
        let project = Project {
            dir: dir.to_owned(),
            env_path: env_file.to_owned(),
            env,
        };
        let (config, _) = self.validate(&project).ok()?;
        let id = project::identity(&project.dir, config.name.as_deref(), &self.dirs);
        Some(Loaded {
            project,
            config,
            id,
        })
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
