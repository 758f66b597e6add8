//! A third driver, `INFRA_TYPE=test`, registered beside the two tmpl ships, in the tests
//! alone: the shipped binary does not contain it. It proves that a driver is one folder and
//! one line in the registry, and that every command that uses a driver runs through the
//! surface in `src/driver/` without knowing which driver it is.
//!
//! Its guests are folders on this host (`<root>/<slug>/home` is the guest's disk), each
//! reached over SSH: a server of the test's own (`sshd`) in a process that outlives tmpl, as
//! a real guest does, with a host key the driver hands tmpl to pin. Snapshots are copies of
//! the disk. It has no network of its own, so no fence, which is how a driver without that
//! capability looks to the session.

pub mod sshd;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tmpl::config::{Config, Rule};
use tmpl::driver::{
    Check, Connect, Driver, Guest, Leftover, Lifecycle, Live, Reach, Snapshot, Snapshots, State,
    StopOutcome, UpOutcome, Wants,
};
use tmpl::project::{Dirs, Loaded};
use tmpl::ssh::{Access, Endpoint};
use tmpl::timing::Phases;

/// What `sshd` needs to start, passed in the environment of its process.
pub const SSHD_ENV: &str = "TMPL_TEST_GUEST";

/// The driver: its guests live under `root`.
pub struct TestDriver {
    pub root: PathBuf,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Record {
    project: PathBuf,
}

/// One guest's folder.
#[derive(Clone)]
pub struct Folder(PathBuf);

impl Folder {
    fn record(&self) -> PathBuf {
        self.0.join("guest.json")
    }
    pub fn home(&self) -> PathBuf {
        self.0.join("home")
    }
    fn snapshots(&self) -> PathBuf {
        self.0.join("snapshots")
    }
    fn listening(&self) -> PathBuf {
        self.0.join("listening.json")
    }
    fn exists(&self) -> bool {
        self.record().is_file()
    }
    fn project(&self) -> Option<PathBuf> {
        let r: Record = serde_json::from_slice(&std::fs::read(self.record()).ok()?).ok()?;
        Some(r.project)
    }
    /// The server's port, while its process lives.
    fn port(&self) -> Option<u16> {
        let l: sshd::Listening =
            serde_json::from_slice(&std::fs::read(self.listening()).ok()?).ok()?;
        alive(l.pid).then_some(l.port)
    }
    fn state(&self) -> State {
        match (self.exists(), self.port()) {
            (false, _) => State::NotCreated,
            (true, Some(_)) => State::Running,
            (true, None) => State::Stopped,
        }
    }
    fn kill(&self) {
        let Ok(bytes) = std::fs::read(self.listening()) else {
            return;
        };
        let Ok(l) = serde_json::from_slice::<sshd::Listening>(&bytes) else {
            return;
        };
        let _ = std::process::Command::new("kill")
            .arg(l.pid.to_string())
            .status();
        let start = Instant::now();
        while alive(l.pid) && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = std::fs::remove_file(self.listening());
    }
    /// Starts the guest's SSH server: this very test binary, in its `sshd` role.
    fn start(&self) -> anyhow::Result<u16> {
        let _ = std::fs::remove_file(self.listening());
        let mut cmd = std::process::Command::new(std::env::current_exe()?);
        cmd.env(SSHD_ENV, &self.0)
            .current_dir("/")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        cmd.spawn()?;
        let start = Instant::now();
        loop {
            if let Some(port) = self.port() {
                return Ok(port);
            }
            anyhow::ensure!(
                start.elapsed() < Duration::from_secs(10),
                "the test guest's SSH server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn alive(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/environ"))
        .is_ok_and(|e| e.windows(SSHD_ENV.len()).any(|w| w == SSHD_ENV.as_bytes()))
}

/// The test binary in its `sshd` role: serves the guest whose folder the environment names.
pub fn serve_if_asked() -> bool {
    let Some(dir) = std::env::var_os(SSHD_ENV) else {
        return false;
    };
    let f = Folder(PathBuf::from(dir));
    sshd::serve(
        &f.home(),
        &f.0.join("hostkey"),
        &f.0.join("authorized"),
        &f.listening(),
    );
    true
}

impl TestDriver {
    fn folder(&self, slug: &str) -> Folder {
        Folder(self.root.join(slug))
    }
}

pub struct TestGuest {
    folder: Folder,
    loaded: Loaded,
    access: Access,
}

impl TestGuest {
    fn endpoint(&self, port: u16) -> Endpoint {
        Endpoint {
            host: "127.0.0.1".into(),
            port,
            user: "root".into(),
            identity: self.access.key(),
        }
    }
}

impl Lifecycle for TestGuest {
    fn live(&self) -> anyhow::Result<Live> {
        let f = &self.folder;
        Ok(match f.state() {
            State::NotCreated => Live::absent(),
            state => Live {
                state,
                address: Some("127.0.0.1".into()),
                ssh: f.port().map(|p| self.endpoint(p)),
            },
        })
    }

    fn up(&self, phases: &mut Phases) -> anyhow::Result<(UpOutcome, Endpoint)> {
        let f = &self.folder;
        let outcome = match f.state() {
            State::Running => UpOutcome::AlreadyRunning,
            State::Stopped => UpOutcome::Started,
            State::NotCreated => UpOutcome::Created,
        };
        if outcome == UpOutcome::Created {
            phases.run(
                "create",
                "making the test guest",
                || -> anyhow::Result<()> {
                    std::fs::create_dir_all(f.home())?;
                    let key = f.0.join("hostkey");
                    let made = std::process::Command::new("ssh-keygen")
                        .args(["-q", "-t", "ed25519", "-N", "", "-C", "test-guest", "-f"])
                        .arg(&key)
                        .status()?;
                    anyhow::ensure!(made.success(), "ssh-keygen failed");
                    std::fs::write(f.0.join("authorized"), self.access.ensure_key()?)?;
                    let r = Record {
                        project: self.loaded.project.dir.clone(),
                    };
                    std::fs::write(f.record(), serde_json::to_vec(&r)?)?;
                    Ok(())
                },
            )?;
        }
        let port = match f.port() {
            Some(p) => p,
            None => phases.run("start", "starting the test guest", || f.start())?,
        };
        Ok((outcome, self.endpoint(port)))
    }

    fn stop(&self, _timeout: Duration, phases: &mut Phases) -> anyhow::Result<StopOutcome> {
        Ok(match self.folder.state() {
            State::NotCreated => StopOutcome::NotCreated,
            State::Stopped => StopOutcome::AlreadyStopped,
            State::Running => {
                phases.run(
                    "stop",
                    "stopping the test guest",
                    || -> anyhow::Result<()> {
                        self.folder.kill();
                        Ok(())
                    },
                )?;
                StopOutcome::Stopped { forced: false }
            }
        })
    }

    fn remove(&self, phases: &mut Phases) -> anyhow::Result<Vec<String>> {
        if !self.folder.0.exists() {
            return Ok(Vec::new());
        }
        phases.run("remove", "removing the test guest", || {
            self.folder.kill();
            std::fs::remove_dir_all(&self.folder.0)
        })?;
        Ok(vec![format!("test guest {}", self.folder.0.display())])
    }

    fn details(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut m = serde_json::Map::new();
        m.insert(
            "test_guest".into(),
            self.folder.0.display().to_string().into(),
        );
        m
    }
}

impl Reach for TestGuest {
    fn host_key(&self) -> Option<String> {
        std::fs::read_to_string(self.folder.0.join("hostkey.pub")).ok()
    }
}

impl Snapshots for TestGuest {
    fn list(&self) -> anyhow::Result<Vec<Snapshot>> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(self.folder.snapshots())
            .into_iter()
            .flatten()
            .flatten()
        {
            let taken = e.metadata()?.modified()?;
            out.push(Snapshot {
                name: e.file_name().to_string_lossy().into_owned(),
                created: jiff::Timestamp::try_from(taken)?,
                size_bytes: None,
            });
        }
        out.sort_by(|a, b| a.created.cmp(&b.created).then(a.name.cmp(&b.name)));
        Ok(out)
    }

    fn save(&self, name: &str, replace: bool) -> anyhow::Result<()> {
        let to = self.folder.snapshots().join(name);
        if to.exists() {
            anyhow::ensure!(replace, "snapshot {name} exists");
            std::fs::remove_dir_all(&to)?;
        }
        std::fs::create_dir_all(self.folder.snapshots())?;
        copy(&self.folder.home(), &to)
    }

    fn restore(&self, name: &str) -> anyhow::Result<()> {
        let home = self.folder.home();
        std::fs::remove_dir_all(&home)?;
        copy(&self.folder.snapshots().join(name), &home)
    }

    fn delete(&self, name: &str) -> anyhow::Result<()> {
        Ok(std::fs::remove_dir_all(self.folder.snapshots().join(name))?)
    }
}

fn copy(from: &Path, to: &Path) -> anyhow::Result<()> {
    let done = std::process::Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()?;
    anyhow::ensure!(done.success(), "cp -a failed");
    Ok(())
}

impl Guest for TestGuest {
    fn snapshots(&self) -> Option<&dyn Snapshots> {
        Some(self)
    }
}

impl Driver for TestDriver {
    fn name(&self) -> &'static str {
        "test"
    }

    fn noun(&self) -> &'static str {
        "test guest"
    }

    fn also_called(&self) -> &'static [&'static str] {
        &["testing"]
    }

    fn validate(&self, config: &Config) -> Vec<Rule> {
        if config.memory_mib <= 4096 {
            return Vec::new();
        }
        vec![Rule {
            key: "MEMORY",
            expected: "at most 4096 MiB for a test guest".into(),
            example: Some("MEMORY=256".into()),
        }]
    }

    fn host_checks(&self, _dirs: &Dirs, _wants: Wants) -> Vec<Check> {
        vec![Check::of(
            "test guests",
            true,
            Ok(self.root.display().to_string()),
        )]
    }

    fn fence_holder(&self) -> tmpl::fence::Holder {
        tmpl::fence::HOST
    }

    fn state_of(&self, slug: &str) -> Option<State> {
        Some(self.folder(slug).state())
    }

    fn leftovers(&self, _dirs: &Dirs) -> Vec<Leftover> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(&self.root)
            .into_iter()
            .flatten()
            .flatten()
        {
            let f = Folder(e.path());
            if let Some(project) = f.project().filter(|p| tmpl::gone::gone(p)) {
                out.push(Leftover {
                    kind: "test guest".into(),
                    name: e.file_name().to_string_lossy().into_owned(),
                    why: format!("its project folder {} is gone", project.display()),
                });
            }
        }
        out
    }

    fn remove_leftover(&self, l: &Leftover) -> anyhow::Result<()> {
        let f = self.folder(&l.name);
        f.kill();
        Ok(std::fs::remove_dir_all(&f.0)?)
    }

    fn preview(&self, loaded: &Loaded, _dirs: &Dirs) -> anyhow::Result<String> {
        Ok(format!(
            "a test guest for {} in {}\n",
            loaded.id.slug,
            self.folder(&loaded.id.slug).0.display()
        ))
    }

    fn open(&self, loaded: &Loaded, _dirs: &Dirs, _how: Connect) -> anyhow::Result<Box<dyn Guest>> {
        Ok(Box::new(TestGuest {
            folder: self.folder(&loaded.id.slug),
            loaded: loaded.clone(),
            access: Access::new(&loaded.id.slug, &loaded.id.state_dir),
        }))
    }
}
