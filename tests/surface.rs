//! The backend surface is complete: a driver that exists only in this test, registered in
//! place of the container driver, runs `up`, `status`, `ls`, `stop`, `rm`, `doctor`,
//! `render` and `gc` through tmpl's own commands, and nothing outside `src/backend/` knows it.
//! Its "guests" are JSON files in a folder of the test's.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tmpl::backend::{
    Backend, Check, Connect, Driver, Leftover, Live, Registry, State, StopOutcome, UpOutcome, Wants,
};
use tmpl::config::InfraType;
use tmpl::context::Loaded;
use tmpl::project::Dirs;
use tmpl::ssh::{Access, Endpoint};
use tmpl::timing::Phases;

/// The folder where the fake guests live, one `<slug>.json` each.
#[derive(Clone)]
struct Fake {
    root: PathBuf,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Guest {
    state: String,
    dir: PathBuf,
}

impl Fake {
    fn file(&self, slug: &str) -> PathBuf {
        self.root.join(format!("{slug}.json"))
    }
    fn read(&self, slug: &str) -> Option<Guest> {
        serde_json::from_str(&std::fs::read_to_string(self.file(slug)).ok()?).ok()
    }
    fn write(&self, slug: &str, g: &Guest) {
        std::fs::create_dir_all(&self.root).unwrap();
        std::fs::write(self.file(slug), serde_json::to_string(g).unwrap()).unwrap();
    }
    fn state(g: &Guest) -> State {
        if g.state == "running" {
            State::Running
        } else {
            State::Stopped
        }
    }
}

struct FakeBackend {
    fake: Fake,
    loaded: Loaded,
}

impl FakeBackend {
    fn endpoint(&self) -> Endpoint {
        Endpoint {
            host: "127.0.0.1".into(),
            port: 1,
            user: "nobody".into(),
            identity: self.loaded.id.state_dir.join("ssh/id_ed25519"),
        }
    }
}

impl Backend for FakeBackend {
    fn infra_type(&self) -> InfraType {
        InfraType::Container
    }
    fn live(&self) -> anyhow::Result<Live> {
        Ok(match self.fake.read(&self.loaded.id.slug) {
            None => Live::absent(),
            Some(g) => Live {
                state: Fake::state(&g),
                address: Some("192.0.2.7".into()),
                ssh: (Fake::state(&g) == State::Running).then(|| self.endpoint()),
            },
        })
    }
    fn up(&self, phases: &mut Phases) -> anyhow::Result<(UpOutcome, Endpoint)> {
        let slug = &self.loaded.id.slug;
        let outcome = match self.fake.read(slug) {
            Some(g) if g.state == "running" => UpOutcome::AlreadyRunning,
            Some(_) => UpOutcome::Started,
            None => UpOutcome::Created,
        };
        phases.run(
            "create",
            "making the fake guest",
            || -> anyhow::Result<()> {
                let g = Guest {
                    state: "running".into(),
                    dir: self.loaded.project.dir.clone(),
                };
                self.fake.write(slug, &g);
                Ok(())
            },
        )?;
        Ok((outcome, self.endpoint()))
    }
    fn wait_ready(&self, _access: &Access, _timeout: Duration) -> anyhow::Result<()> {
        Ok(())
    }
    fn stop(&self, _t: Duration, _p: &mut Phases) -> anyhow::Result<StopOutcome> {
        let slug = &self.loaded.id.slug;
        Ok(match self.fake.read(slug) {
            None => StopOutcome::NotCreated,
            Some(g) if g.state != "running" => StopOutcome::AlreadyStopped,
            Some(mut g) => {
                g.state = "stopped".into();
                self.fake.write(slug, &g);
                StopOutcome::Stopped { forced: false }
            }
        })
    }
    fn remove(&self, _p: &mut Phases) -> anyhow::Result<Vec<String>> {
        let file = self.fake.file(&self.loaded.id.slug);
        Ok(match std::fs::remove_file(&file) {
            Ok(()) => vec![format!("fake guest {}", file.display())],
            Err(_) => Vec::new(),
        })
    }
}

struct FakeDriver(Fake);

impl Driver for FakeDriver {
    fn infra_type(&self) -> InfraType {
        InfraType::Container
    }
    fn host_checks(&self, _dirs: &Dirs, _wants: Wants) -> Vec<Check> {
        vec![Check::of(
            "fake guests",
            true,
            Ok(self.0.root.display().to_string()),
        )]
    }
    fn state_of(&self, slug: &str) -> Option<State> {
        Some(
            self.0
                .read(slug)
                .map_or(State::NotCreated, |g| Fake::state(&g)),
        )
    }
    fn leftovers(&self, _dirs: &Dirs) -> Vec<Leftover> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(&self.0.root)
            .into_iter()
            .flatten()
            .flatten()
        {
            let slug = e
                .file_name()
                .to_string_lossy()
                .trim_end_matches(".json")
                .to_owned();
            if let Some(g) = self.0.read(&slug).filter(|g| !g.dir.exists()) {
                out.push(Leftover {
                    kind: "fake guest".into(),
                    name: slug,
                    why: format!("its project folder {} is gone", g.dir.display()),
                });
            }
        }
        out
    }
    fn remove_leftover(&self, l: &Leftover) -> anyhow::Result<()> {
        Ok(std::fs::remove_file(self.0.file(&l.name))?)
    }
    fn preview(&self, loaded: &Loaded, _dirs: &Dirs) -> anyhow::Result<String> {
        Ok(format!("a fake guest for {}\n", loaded.id.slug))
    }
    fn open(
        &self,
        loaded: &Loaded,
        _dirs: &Dirs,
        _how: Connect,
    ) -> anyhow::Result<Box<dyn Backend>> {
        Ok(Box::new(FakeBackend {
            fake: self.0.clone(),
            loaded: loaded.clone(),
        }))
    }
}

/// What tmpl writes as data, taken from in-process runs.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn take(&self) -> String {
        String::from_utf8(std::mem::take(&mut *self.0.lock().unwrap())).unwrap()
    }
}

fn tmpl(fake: &Fake, dir: &Path, args: &[&str]) -> u8 {
    let registry = Registry::builtin().with(Box::new(FakeDriver(fake.clone())));
    let mut argv: Vec<OsString> = vec!["tmpl".into(), "-C".into(), dir.into()];
    argv.extend(args.iter().map(OsString::from));
    tmpl::run_with(registry, argv)
}

#[test]
fn every_command_runs_against_a_driver_tmpl_does_not_know() {
    let root = tempfile::tempdir().unwrap();
    let xdg = root.path().join("xdg");
    std::env::set_var("XDG_STATE_HOME", xdg.join("state"));
    std::env::set_var("XDG_CACHE_HOME", xdg.join("cache"));
    std::env::set_var("XDG_CONFIG_HOME", xdg.join("config"));
    std::env::set_var("NO_COLOR", "1");
    let out = Captured::default();
    tmpl::output::capture(Box::new(out.clone()));
    let fake = Fake {
        root: root.path().join("guests"),
    };
    let project = root.path().join("surfaced");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(
        project.join(".env"),
        "INFRA_TYPE=container\nMEMORY=256\nCPUS=1\nDISK=1\nSYNC=none\n",
    )
    .unwrap();
    let project = project.canonicalize().unwrap();

    assert_eq!(tmpl(&fake, &project, &["status"]), 4, "not created");
    assert_eq!(tmpl(&fake, &project, &["trust"]), 0);
    assert_eq!(tmpl(&fake, &project, &["up"]), 0);
    let status: serde_json::Value = {
        out.take();
        assert_eq!(tmpl(&fake, &project, &["status", "--json"]), 0);
        serde_json::from_str(&out.take()).unwrap()
    };
    assert_eq!(status["state"], "running");
    assert_eq!(status["address"], "192.0.2.7");
    let slug = status["slug"].as_str().unwrap().to_owned();
    assert!(fake.file(&slug).exists());

    assert_eq!(tmpl(&fake, &project, &["ls"]), 0);
    let ls = out.take();
    assert!(ls.contains(&slug) && ls.contains("running"), "{ls}");

    assert_eq!(tmpl(&fake, &project, &["render"]), 0);
    assert_eq!(out.take(), format!("a fake guest for {slug}\n"));

    assert_eq!(tmpl(&fake, &project, &["doctor"]), 0, "its checks pass");
    assert!(out.take().contains("fake guests"));

    assert_eq!(tmpl(&fake, &project, &["stop"]), 0);
    assert_eq!(tmpl(&fake, &project, &["status"]), 3, "stopped");
    assert_eq!(tmpl(&fake, &project, &["up"]), 0);
    assert_eq!(tmpl(&fake, &project, &["rm", "-f"]), 0);
    assert!(!fake.file(&slug).exists());
    assert_eq!(tmpl(&fake, &project, &["status"]), 4);

    // a guest whose project folder went away is the driver's leftover, and gc removes it
    let gone = root.path().join("gone");
    std::fs::create_dir_all(&gone).unwrap();
    std::fs::write(
        gone.join(".env"),
        "INFRA_TYPE=container\nMEMORY=256\nCPUS=1\nDISK=1\nSYNC=none\n",
    )
    .unwrap();
    assert_eq!(tmpl(&fake, &gone, &["trust"]), 0);
    assert_eq!(tmpl(&fake, &gone, &["up"]), 0);
    std::fs::remove_dir_all(&gone).unwrap();
    out.take();
    assert_eq!(tmpl(&fake, &project, &["gc", "--yes"]), 0);
    let gc = out.take();
    assert!(gc.contains("fake guest"), "{gc}");
    assert_eq!(
        std::fs::read_dir(&fake.root).unwrap().count(),
        0,
        "gc removed it"
    );
}
