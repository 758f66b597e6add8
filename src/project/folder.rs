//! Which folder is the project: the nearest one, from the current one upward, whose `.env`
//! sets a tmpl key. The search stops below `$HOME` and at the filesystem root.

use crate::config::{keys, EnvFile};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Project {
    /// Canonical project folder.
    pub dir: PathBuf,
    /// The settings file that was read.
    pub env_path: PathBuf,
    pub env: EnvFile,
}

/// Why no project was found: the folders searched, for the error message.
#[derive(Debug)]
pub struct NotFound {
    pub looked_in: Vec<PathBuf>,
}

/// Does this `.env` set at least one tmpl key?
pub fn has_tmpl_settings(env: &EnvFile) -> bool {
    env.entries.iter().any(|e| keys::is_tmpl_key(&e.key))
}

/// Finds the project from `start` upward.
pub fn discover(start: &Path, home: Option<&Path>) -> Result<Project, NotFound> {
    let mut looked_in = Vec::new();
    for dir in start.ancestors() {
        let at_home = home.is_some_and(|h| dir == h);
        if at_home && dir != start {
            break;
        }
        looked_in.push(dir.to_owned());
        let path = dir.join(".env");
        // never through a link out of the folder (see `EnvFile::read_in`)
        if let Ok(env) = EnvFile::read_in(dir) {
            if has_tmpl_settings(&env) {
                return Ok(Project {
                    dir: dir.to_owned(),
                    env_path: path,
                    env,
                });
            }
        }
        if at_home {
            break;
        }
    }
    Err(NotFound { looked_in })
}
