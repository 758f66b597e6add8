//! A loaded project and a target for unit tests, without any guest.

use super::Target;
use crate::config::{validate, EnvFile};
use crate::project::Loaded;
use crate::project::{identity, Dirs, Project};
use crate::ssh::{Access, Endpoint};

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub loaded: Loaded,
    pub access: Access,
    pub endpoint: Endpoint,
}

impl Fixture {
    pub fn new(env: &str, user: &str) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let env_path = dir.path().join(".env");
        let env = EnvFile::parse(&env_path, env);
        let (config, _) = validate(&env, dir.path(), false, &crate::backend::builtin()).unwrap();
        let dirs = Dirs {
            home: None,
            cache: dir.path().join("cache"),
            state: dir.path().join("state"),
            config: dir.path().join("config"),
        };
        let id = identity(dir.path(), config.name.as_deref(), &dirs);
        let access = Access::new(&id.slug, &id.state_dir);
        let endpoint = Endpoint {
            host: "127.0.0.1".into(),
            port: 2222,
            user: user.into(),
            identity: access.key(),
        };
        let loaded = Loaded {
            project: Project {
                dir: dir.path().to_owned(),
                env_path,
                env,
            },
            config,
            id,
        };
        Fixture {
            dir,
            loaded,
            access,
            endpoint,
        }
    }
    pub fn target(&self) -> Target<'_> {
        Target {
            loaded: &self.loaded,
            access: &self.access,
            endpoint: &self.endpoint,
        }
    }
}
