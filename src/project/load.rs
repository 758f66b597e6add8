//! From a folder to a loaded project: find its `.env` (or read `--env-file`), validate it
//! with the rules of the driver it names, and give it its identity. Invalid settings are
//! refused with exit 78 before anything is created, with every problem placed at its line.

use super::folder::{discover, Project};
use super::identity::{identity, Dirs, Identity};
use crate::config::{self, Config, Drivers, EnvFile, Grants, Problem, Report};
use crate::error::Failure;
use crate::ui;
use std::path::{Path, PathBuf};

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

/// What a folder's `.env` may take from tmpl's environment: what its approval granted
/// (`trust` keeps the grants; this layer only asks).
pub trait Granted {
    fn grants(&self, dir: &Path) -> Grants;
}

/// Every variable the file asks for: to show a person what approving it would mean.
pub struct AllAsked;

impl Granted for AllAsked {
    fn grants(&self, _: &Path) -> Grants {
        Grants::All
    }
}

/// Where a command looks for its project, and how strictly it reads it.
pub struct Finder<'a> {
    /// Where the command runs (`-C DIR`); paths in messages are shown relative to it.
    pub cwd: &'a Path,
    /// `--env-file FILE`: read it instead of finding `.env`.
    pub env_file: Option<&'a Path>,
    /// `--strict`: a misspelt key is an error.
    pub strict: bool,
    pub dirs: &'a Dirs,
    pub drivers: &'a dyn Drivers,
    /// Which `$VAR`s the `.env` may take from tmpl's environment.
    pub granted: &'a dyn Granted,
}

impl Finder<'_> {
    /// A path as the user should read it: relative to where they are when it is below.
    pub fn show(&self, p: &Path) -> String {
        match p.strip_prefix(self.cwd) {
            Ok(rel) if !rel.as_os_str().is_empty() => rel.display().to_string(),
            _ => p.display().to_string(),
        }
    }

    /// Finds the project (or reads `--env-file`), without validating it.
    pub fn project(&self) -> anyhow::Result<Project> {
        if let Some(f) = self.env_file {
            let path = self.cwd.join(f);
            let env = EnvFile::read(&path).map_err(|e| {
                Failure::config(format!("cannot read `{}`: {e}", self.show(&path)))
                    .hint("check the path given to `--env-file`")
            })?;
            return Ok(Project {
                env: env.granting(&self.granted.grants(self.cwd)),
                dir: self.cwd.to_owned(),
                env_path: path,
            });
        }
        let found = discover(self.cwd, self.dirs.home.as_deref()).map_err(|nf| {
            let mut f = Failure::config("no tmpl project here: no `.env` with tmpl settings");
            for d in &nf.looked_in {
                f = f.detail(format!("looked in {}", d.join(".env").display()));
            }
            f.detail(format!(
                "a tmpl `.env` sets {}",
                config::validate::required_list()
            ))
            .hint("`tmpl init` writes a commented `.env` in this folder")
        })?;
        Ok(Project {
            env: found.env.granting(&self.granted.grants(&found.dir)),
            ..found
        })
    }

    /// Validates the project's settings: the general rules, then its driver's own.
    pub fn validate(&self, project: &Project) -> Result<(Config, Report), Report> {
        config::validate(&project.env, &project.dir, self.strict, self.drivers)
    }

    /// Finds, reads and validates the project; prints warnings; fails with exit 78 when the
    /// settings are invalid.
    pub fn load(&self) -> anyhow::Result<Loaded> {
        let project = self.project()?;
        let result = self.validate(&project);
        let report = match &result {
            Ok((_, r)) | Err(r) => r,
        };
        for w in &report.warnings {
            ui::warn(format!("{}: {}", self.place(&project, w.line), w.message));
        }
        for e in &project.env.entries {
            for (var, _) in e.from_env.iter().filter(|(_, taken)| !taken) {
                ui::warn(format!(
                    "{}: `{}` takes ${} from tmpl's environment, which this folder's approval does not allow: it is empty until `tmpl trust` approves it",
                    self.place(&project, Some(e.line)),
                    e.key,
                    crate::text::visible(var)
                ));
            }
        }
        match result {
            Ok((config, _)) => {
                let id = identity(&project.dir, config.name.as_deref(), self.dirs);
                Ok(Loaded {
                    project,
                    config,
                    id,
                })
            }
            Err(report) => Err(self.invalid(&project, &report).into()),
        }
    }

    /// A registered project's settings, read quietly (for `ls`): `None` when they are gone or
    /// no longer valid.
    pub fn load_registered(&self, dir: &Path, env_file: &Path) -> Option<Loaded> {
        let env = EnvFile::read(env_file)
            .ok()?
            .granting(&self.granted.grants(dir));
        let project = Project {
            dir: dir.to_owned(),
            env_path: env_file.to_owned(),
            env,
        };
        let (config, _) = self.validate(&project).ok()?;
        let id = identity(&project.dir, config.name.as_deref(), self.dirs);
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
    pub fn invalid(&self, project: &Project, report: &Report) -> Failure {
        let file = self.show(&project.env_path);
        let n = report.problems.len();
        let mut f = Failure::config(format!(
            "`{file}` has {n} invalid setting{}",
            if n == 1 { "" } else { "s" }
        ));
        for p in &report.problems {
            f = self.problem(f, project, p);
        }
        f.hint("`tmpl validate` checks the file without creating anything")
    }

    fn problem(&self, f: Failure, project: &Project, p: &Problem) -> Failure {
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
        // the line as written, escaped: a colour code in it would hide the lines after it
        let what = crate::text::visible(&crate::text::redact_url(&what));
        let f = f.detail(format!("--> {place}  {what}"));
        let example = p
            .example
            .as_ref()
            .map(|e| format!(", e.g. `{e}`"))
            .unwrap_or_default();
        f.detail(format!("    expected {}{example}", p.expected))
    }
}
