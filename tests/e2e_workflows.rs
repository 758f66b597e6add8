//! The workflows people already run, end to end on real Podman and libvirt: `tmpl exec`, the
//! project folder in the guest (SYNC), tmux sessions (SESSION), the invoke/make/go-task/
//! pre-commit wrappers in `examples/`, and many projects side by side.
//!
//! Needs `make setup fixtures` (the container fixture has tmux), and PyPI for the wrapper
//! tools, which are installed once into a venv under ~/.cache/tmpl-test.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

fn ctr(extra: &str) -> String {
    format!("INFRA_TYPE=container\nMEMORY=384\nCPUS=1\nDISK=2\nIMAGE={CONTAINER_IMAGE}\n{extra}")
}

fn vm(extra: &str) -> String {
    format!("INFRA_TYPE=vm\nMEMORY=1024\nCPUS=1\nDISK=4\nIMAGE={TEST_BOX}\n{extra}")
}

fn canon(p: &Path) -> String {
    p.canonicalize().unwrap().display().to_string()
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `tmpl ARGS` for `p`, started in `dir` instead of the project folder.
fn run_in(p: &Project, dir: &Path, args: &[&str]) -> Output {
    let out = p.cmd(args).current_dir(dir).output().unwrap();
    eprintln!(
        "$ (cd {}; tmpl {}) -> {:?}\n{}{}",
        dir.display(),
        args.join(" "),
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
fn exec_runs_in_the_project_folder_shared_read_write() {
    let p = Project::new("shared", &ctr(""));
    p.write("sub/dir/keep.txt", "from the host\n");
    p.ok(&["up"]);
    let dir = canon(&p.dir);

    // the same path as on the host, and the same subfolder as the one tmpl runs in
    assert_eq!(p.ok(&["exec", "pwd"]).trim(), dir);
    let sub = p.dir.join("sub/dir");
    let out = run_in(&p, &sub, &["exec", "cat", "keep.txt"]);
    assert_eq!(text(&out), "from the host");
    assert_eq!(
        text(&run_in(&p, &sub, &["exec", "pwd"])),
        format!("{dir}/sub/dir")
    );

    // `exec` is `ssh --`: arguments arrive as given, exit codes pass through
    assert_eq!(
        p.ok(&["exec", "printf", "%s|", "a b", "it's", "$HOME"]),
        "a b|it's|$HOME|"
    );
    assert_eq!(p.code(&["exec", "sh", "-c", "exit 7"]), 7);
    assert_eq!(p.ok(&["ssh", "--", "pwd"]).trim(), dir);

    // a file written in the guest is on the host, and the other way round
    p.ok(&[
        "exec",
        "sh",
        "-c",
        "echo from the guest > written-in-guest.txt",
    ]);
    assert_eq!(
        std::fs::read_to_string(p.dir.join("written-in-guest.txt")).unwrap(),
        "from the guest\n"
    );
    std::fs::write(p.dir.join("later.txt"), "after up\n").unwrap();
    assert_eq!(p.ok(&["exec", "cat", "later.txt"]), "after up\n");

    // the project is the only thing of the host in the container
    let inspect: serde_json::Value = serde_json::from_str(&host_ok(
        "podman",
        &["inspect", &format!("tmpl-{}", p.slug())],
    ))
    .unwrap();
    let mounts: Vec<(String, String, bool)> = inspect[0]["Mounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["Source"].as_str().unwrap().to_owned(),
                m["Destination"].as_str().unwrap().to_owned(),
                m["RW"].as_bool().unwrap(),
            )
        })
        .collect();
    // the project folder read-write, as the host's file server for it serves it (which keeps
    // the guest's `.git` apart from the host's), and nothing else of the host
    assert_eq!(mounts.len(), 1, "{mounts:?}");
    let (source, dest, rw) = &mounts[0];
    assert_eq!((dest, rw), (&dir, &true), "{mounts:?}");
    assert!(
        source.ends_with("/share/mnt") && source.contains("/xdg/state/tmpl/"),
        "the folder is served, not bound as it is: {mounts:?}"
    );

    // the folder is there again after stop/up
    p.ok(&["stop"]);
    p.ok(&["up"]);
    assert_eq!(
        p.ok(&["exec", "cat", "written-in-guest.txt"]),
        "from the guest\n"
    );
}

#[test]
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
fn sync_ro_elsewhere_and_none() {
    let ro = Project::new("readonly", &ctr("SYNC=ro\n"));
    ro.write("data.txt", "host data\n");
    let moved = Project::new("moved", &ctr("SYNC_PATH=/work/app\n"));
    let none = Project::new("private", &ctr("SYNC=none\n"));
    for p in [&ro, &moved, &none] {
        p.ok(&["up"]);
    }

    assert_eq!(ro.ok(&["exec", "cat", "data.txt"]), "host data\n");
    let write = ro.run(&["exec", "sh", "-c", "echo x > new.txt"]);
    assert!(!write.status.success(), "SYNC=ro cannot be written");
    assert!(String::from_utf8_lossy(&write.stderr).contains("Read-only file system"));
    assert!(!ro.dir.join("new.txt").exists());

    assert_eq!(moved.ok(&["exec", "pwd"]).trim(), "/work/app");
    moved.ok(&["exec", "touch", "made-at-work-app"]);
    assert!(moved.dir.join("made-at-work-app").exists());
    let host_path = canon(&moved.dir);
    assert_eq!(
        moved.code(&["exec", "test", "-e", &host_path]),
        1,
        "only at SYNC_PATH"
    );

    // no project folder: commands run in the login user's home, and the host path is absent
    assert_eq!(none.ok(&["exec", "pwd"]).trim(), "/root");
    assert_eq!(none.code(&["exec", "test", "-e", &canon(&none.dir)]), 1);
}

/// `tmpl ssh` under a pseudo-terminal (`script`), as a person runs it; its stdin stays open
/// until the test lets it go.
struct Login {
    child: std::process::Child,
}

impl Login {
    fn start(p: &Project) -> Login {
        // the environment `p.cmd` would give tmpl (private XDG dirs), for tmpl under script
        let c = p.cmd(&[]);
        let tmpl = c.get_program().to_owned();
        let mut script = Command::new("script");
        script
            .args([
                "-qfec",
                &format!("'{}' ssh", tmpl.to_string_lossy()),
                "/dev/null",
            ])
            .current_dir(&p.dir)
            .env("TERM", "xterm")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in c.get_envs() {
            if let Some(v) = v {
                script.env(k, v);
            }
        }
        Login {
            child: script.spawn().expect("`script` (util-linux) is needed"),
        }
    }

    /// Waits for `tmpl ssh` to end by itself (the session was detached).
    fn ended(mut self) -> bool {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        false
    }
}

impl Drop for Login {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `name:attached:pane_pid:pane_path` of every tmux session in the guest.
fn sessions(p: &Project) -> Vec<String> {
    let out = p.run(&[
        "exec",
        "tmux",
        "list-sessions",
        "-F",
        "#{session_name}:#{session_attached}:#{pane_pid}:#{pane_current_path}",
    ]);
    if !out.status.success() {
        return vec![];
    }
    text(&out).lines().map(str::to_owned).collect()
}

#[test]
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
fn session_tmux_is_created_once_and_found_again() {
    let p = Project::new("agent", &ctr("SESSION=tmux\n"));
    p.ok(&["up"]);
    let dir = canon(&p.dir);

    // with a command, `tmpl ssh` runs it: no session is made
    assert_eq!(p.ok(&["ssh", "--", "echo", "plain"]).trim(), "plain");
    assert!(sessions(&p).is_empty());

    // the first login creates the session, named after the project, in the project folder
    let first = Login::start(&p);
    let attached = eventually(Duration::from_secs(30), || {
        let s = sessions(&p);
        (s.len() == 1 && s[0].starts_with("agent:1:")).then(|| s[0].clone())
    })
    .expect("`tmpl ssh` attached to a new session named `agent`");
    assert!(attached.ends_with(&format!(":{dir}")), "{attached}");
    let pane_pid = attached.split(':').nth(2).unwrap().to_owned();

    // detached (as when the laptop sleeps), the session and its shell keep running
    p.ok(&["exec", "tmux", "detach-client", "-s", "agent"]);
    assert!(
        first.ended(),
        "`tmpl ssh` returns when the session is detached"
    );
    assert_eq!(sessions(&p), vec![format!("agent:0:{pane_pid}:{dir}")]);

    // the next login attaches to the same session, not a new one
    let second = Login::start(&p);
    let again = eventually(Duration::from_secs(30), || {
        let s = sessions(&p);
        (s.len() == 1 && s[0].starts_with("agent:1:")).then(|| s[0].clone())
    })
    .expect("the second login attached");
    assert_eq!(
        again,
        format!("agent:1:{pane_pid}:{dir}"),
        "same session, same shell"
    );
    p.ok(&["exec", "tmux", "detach-client", "-s", "agent"]);
    assert!(second.ended());
}

/// A venv with invoke, go-task and pre-commit, made once per set of pinned versions.
fn wrapper_tools() -> &'static PathBuf {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| {
        let reqs = repo().join("tests/support/wrappers-requirements.txt");
        let text = std::fs::read_to_string(&reqs).unwrap();
        let hash: u32 = text
            .bytes()
            .fold(2166136261u32, |h, b| (h ^ b as u32).wrapping_mul(16777619));
        let venv = PathBuf::from(std::env::var("HOME").unwrap())
            .join(format!(".cache/tmpl-test/wrappers-venv-{hash:08x}"));
        if !venv.join("ok").exists() {
            let _ = std::fs::remove_dir_all(&venv);
            host_ok("python3", &["-m", "venv", venv.to_str().unwrap()]);
            host_ok(
                venv.join("bin/pip").to_str().unwrap(),
                &[
                    "install",
                    "-q",
                    "--disable-pip-version-check",
                    "-r",
                    reqs.to_str().unwrap(),
                ],
            );
            std::fs::write(venv.join("ok"), "").unwrap();
        }
        venv.join("bin")
    })
}

/// A wrapper tool run in `dir` with `tmpl` (this build) and the venv's tools on PATH and
/// the project's private XDG dirs.
fn tool(p: &Project, dir: &Path, program: &str, args: &[&str]) -> Output {
    tool_env(p, dir, program, args, &[])
}

fn tool_env(
    p: &Project,
    dir: &Path,
    program: &str,
    args: &[&str],
    env: &[(&str, &Path)],
) -> Output {
    let tmpl_dir = Path::new(env!("CARGO_BIN_EXE_tmpl")).parent().unwrap();
    let path = format!(
        "{}:{}:{}",
        tmpl_dir.display(),
        wrapper_tools().display(),
        std::env::var("PATH").unwrap()
    );
    let base = p.cmd(&[]);
    let mut c = Command::new(program);
    c.args(args)
        .current_dir(dir)
        .env("PATH", path)
        .stdin(Stdio::null());
    for (k, v) in base.get_envs() {
        if let Some(v) = v {
            c.env(k, v);
        }
    }
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap_or_else(|e| panic!("{program}: {e}"));
    eprintln!(
        "$ {program} {} -> {:?}\n{}{}",
        args.join(" "),
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn tool_ok(p: &Project, program: &str, args: &[&str]) -> String {
    let out = tool(p, &p.dir, program, args);
    assert!(out.status.success(), "{program} {args:?} failed");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
fn invoke_tasks_drive_a_project() {
    let p = Project::new("invoked", &ctr(""));
    std::fs::copy(
        repo().join("examples/invoke/tasks.py"),
        p.dir.join("tasks.py"),
    )
    .unwrap();
    let code = |args: &[&str]| tool(&p, &p.dir, "invoke", args).status.code();
    tool_ok(&p, "invoke", &["validate"]);
    assert_eq!(
        code(&["status"]),
        Some(4),
        "not created: tmpl's own exit code"
    );
    // a new folder is not run unasked: without a terminal, refused until approved
    assert_eq!(code(&["up"]), Some(77));
    tool_ok(&p, "invoke", &["trust"]);
    tool_ok(&p, "invoke", &["up"]);
    assert_eq!(code(&["status"]), Some(0));
    let out = tool_ok(&p, "invoke", &["ssh", "--cmd", "echo $((6*7)); pwd"]);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["42", canon(&p.dir).as_str()]
    );
    assert_eq!(code(&["ssh", "--cmd", "exit 5"]), Some(5));
    tool_ok(&p, "invoke", &["stop"]);
    assert_eq!(code(&["status"]), Some(3));
    tool_ok(&p, "invoke", &["rm", "--force"]);
    assert_eq!(code(&["status"]), Some(4));
}

#[test]
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
fn make_targets_drive_a_project() {
    let p = Project::new("made", &ctr(""));
    p.write(
        "Makefile",
        &format!(
            "include {}\n\ntest:\n\t@echo the projects own target\n",
            repo().join("examples/make/tmpl.mk").display()
        ),
    );
    let code = |args: &[&str]| tool(&p, &p.dir, "make", args).status.code();
    tool_ok(&p, "make", &["tmpl-validate"]);
    assert_ne!(
        code(&["tmpl-up"]),
        Some(0),
        "a new folder is approved first"
    );
    tool_ok(&p, "make", &["tmpl-trust"]);
    tool_ok(&p, "make", &["tmpl-up"]);
    let out = tool_ok(
        &p,
        "make",
        &[
            "-s",
            "tmpl-ssh",
            "CMD=printf '%s|' \"it's\" 'a b' $$((1+1))",
        ],
    );
    // make expands `$(...)` itself: `$$` is how a Makefile user writes a `$` for the shell
    assert_eq!(out, "it's|a b|2|");
    assert_eq!(
        tool_ok(&p, "make", &["-s", "test"]).trim(),
        "the projects own target"
    );
    tool_ok(&p, "make", &["tmpl-stop"]);
    assert_ne!(
        code(&["tmpl-status"]),
        Some(0),
        "stopped: make fails on exit 3"
    );
    tool_ok(&p, "make", &["tmpl-rm", "FORCE=1"]);
    assert_eq!(p.code(&["status"]), 4);
}

#[test]
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
fn taskfile_tasks_drive_a_project() {
    let p = Project::new("tasked", &ctr(""));
    let taskfile = repo().join("examples/taskfile/Taskfile.yml");
    let t = taskfile.to_str().unwrap();
    // from a subfolder: the tasks act where task was started, and tmpl finds the project upward
    let sub = p.dir.join("src");
    std::fs::create_dir_all(&sub).unwrap();
    let run = |args: &[&str]| {
        let mut all = vec!["-t", t];
        all.extend_from_slice(args);
        tool(&p, &sub, "task", &all)
    };
    assert!(run(&["tmpl:validate"]).status.success());
    assert!(
        !run(&["tmpl:up"]).status.success(),
        "a new folder is approved first"
    );
    assert!(run(&["tmpl:trust"]).status.success());
    assert!(run(&["tmpl:up"]).status.success());
    let out = run(&["-s", "tmpl:ssh", "CMD=pwd; echo \"it's\""]);
    assert!(out.status.success());
    assert_eq!(text(&out), format!("{}/src\nit's", canon(&p.dir)));
    assert!(run(&["tmpl:status"]).status.success());
    assert!(run(&["tmpl:stop"]).status.success());
    assert!(!run(&["tmpl:status"]).status.success());
    assert!(run(&["tmpl:rm", "FORCE=1"]).status.success());
    assert_eq!(p.code(&["status"]), 4);
}

#[test]
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
fn pre_commit_runs_the_hook() {
    // no guest: a git repository whose .env the hook checks
    let p = Project::new(
        "hooked",
        "INFRA_TYPE=container\nMEMORY=lots\nCPUS=1\nDISK=2\n",
    );
    let examples = repo().join("examples/pre-commit");
    // pre-commit's own cache in the test's folder, not the user's ~/.cache/pre-commit
    let home = p.xdg().join("pre-commit");
    let pc = |args: &[&str]| {
        let mut all = args.to_vec();
        all.push("--color=never");
        tool_env(
            &p,
            &p.dir,
            "pre-commit",
            &all,
            &[("PRE_COMMIT_HOME", &home)],
        )
    };
    for f in [
        ".pre-commit-config.yaml",
        "installed-tmpl.pre-commit-config.yaml",
    ] {
        let cfg = examples.join(f);
        assert!(
            pc(&["validate-config", cfg.to_str().unwrap()])
                .status
                .success(),
            "{f}"
        );
    }
    let manifest = repo().join(".pre-commit-hooks.yaml");
    assert!(pc(&["validate-manifest", manifest.to_str().unwrap()])
        .status
        .success());

    host_ok("git", &["-C", p.dir.to_str().unwrap(), "init", "-q"]);
    std::fs::copy(
        examples.join("installed-tmpl.pre-commit-config.yaml"),
        p.dir.join(".pre-commit-config.yaml"),
    )
    .unwrap();
    host_ok(
        "git",
        &[
            "-C",
            p.dir.to_str().unwrap(),
            "add",
            ".env",
            ".pre-commit-config.yaml",
        ],
    );
    let bad = pc(&["run", "--all-files"]);
    assert!(!bad.status.success(), "an invalid .env fails the hook");
    assert!(
        String::from_utf8_lossy(&bad.stdout).contains("MEMORY=lots"),
        "tmpl's message is shown"
    );

    p.write(".env", &ctr(""));
    host_ok("git", &["-C", p.dir.to_str().unwrap(), "add", ".env"]);
    assert!(
        pc(&["run", "--all-files"]).status.success(),
        "a valid .env passes"
    );
}

#[test]
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
fn vm_shares_the_project_folder_over_virtiofs() {
    let p = Project::new("vmshare", &vm(""));
    p.write("from-host.txt", "written on the host\n");
    p.ok(&["up"]);
    let dir = canon(&p.dir);
    assert_eq!(p.ok(&["exec", "pwd"]).trim(), dir);
    let mount = p.ok(&["exec", "findmnt", "-no", "FSTYPE,OPTIONS", &dir]);
    assert!(
        mount.starts_with("virtiofs") && mount.contains("rw"),
        "{mount}"
    );
    assert_eq!(
        p.ok(&["exec", "cat", "from-host.txt"]),
        "written on the host\n"
    );
    // uids pass through virtiofs: the host folder is root's here, so the guest user needs sudo
    p.ok(&[
        "exec",
        "sudo",
        "sh",
        "-c",
        "echo written in the VM > from-vm.txt",
    ]);
    assert_eq!(
        std::fs::read_to_string(p.dir.join("from-vm.txt")).unwrap(),
        "written in the VM\n"
    );

    // mounted again when the VM starts again
    p.ok(&["stop"]);
    p.ok(&["up"]);
    assert_eq!(p.ok(&["exec", "cat", "from-vm.txt"]), "written in the VM\n");
    p.ok(&["rm", "-f"]);
    assert!(
        p.dir.join("from-vm.txt").exists(),
        "rm leaves the project's files alone"
    );
}

/// Every project of the many-projects test, run with one set of XDG dirs like one user's
/// (each removes what it made when it is dropped, passed or not).
struct Fleet {
    projects: Vec<Project>,
}

impl Fleet {
    fn new(xdg: PathBuf, projects: Vec<Project>) -> Fleet {
        let projects = projects
            .into_iter()
            .map(|mut p| {
                p.shared_xdg = Some(xdg.clone());
                p
            })
            .collect();
        Fleet { projects }
    }
    fn cmd(&self, i: usize, args: &[&str]) -> Command {
        self.projects[i].cmd(args)
    }
    fn ok(&self, i: usize, args: &[&str]) -> String {
        self.projects[i].ok(args).trim().to_owned()
    }
    fn code(&self, i: usize, args: &[&str]) -> i32 {
        self.projects[i].code(args)
    }
    fn slug(&self, i: usize) -> String {
        self.projects[i].slug()
    }
}

#[test]
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
fn many_projects_vms_and_containers_side_by_side() {
    let root = tempfile::Builder::new()
        .prefix("tmpl-e2e-fleet-")
        .tempdir_in("/tmp")
        .unwrap();
    let fleet = Fleet::new(
        root.path().join("xdg"),
        vec![
            Project::new("twin", &ctr("")),
            Project::new("twin", &ctr("")),
            Project::new("api", &ctr("SYNC=ro\n")),
            Project::new("svc", &vm("SYNC=none\n")),
        ],
    );
    let (twin_a, twin_b, api, svc) = (0, 1, 2, 3);

    // all brought up at the same time
    let started: Vec<_> = (0..4)
        .map(|i| fleet.cmd(i, &["up"]).stdout(Stdio::null()).spawn().unwrap())
        .collect();
    for (i, mut child) in started.into_iter().enumerate() {
        assert!(child.wait().unwrap().success(), "up of project {i}");
    }
    let slugs: Vec<String> = (0..4).map(|i| fleet.slug(i)).collect();
    let mut unique = slugs.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 4, "four projects, four guests: {slugs:?}");
    assert!(slugs[twin_a].starts_with("twin-") && slugs[twin_b].starts_with("twin-"));

    // each guest is its own: its hostname, and a marker only it has
    for i in 0..4 {
        let name = fleet.projects[i]
            .dir
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert_eq!(fleet.ok(i, &["exec", "hostname"]), name);
        fleet.ok(i, &["exec", "sh", "-c", &format!("echo {i} > /tmp/who")]);
    }
    for i in 0..4 {
        assert_eq!(fleet.ok(i, &["exec", "cat", "/tmp/who"]), i.to_string());
    }
    let listed = fleet.ok(0, &["ls", "--json"]);
    for s in &slugs {
        assert!(listed.contains(s.as_str()), "`tmpl ls` lists {s}");
    }

    // stopping the VM and one container leaves the others running
    fleet.ok(svc, &["stop"]);
    fleet.ok(api, &["stop"]);
    assert_eq!(fleet.code(svc, &["status"]), 3);
    assert_eq!(fleet.code(api, &["status"]), 3);
    for i in [twin_a, twin_b] {
        assert_eq!(fleet.code(i, &["status"]), 0);
        assert_eq!(fleet.ok(i, &["exec", "cat", "/tmp/who"]), i.to_string());
    }

    // removing one twin leaves the other twin, and the stopped ones, as they were
    fleet.ok(twin_a, &["rm", "-f"]);
    assert_eq!(fleet.code(twin_a, &["status"]), 4);
    assert!(podman_labelled(&slugs[twin_a]).is_empty());
    assert_eq!(
        fleet.ok(twin_b, &["exec", "cat", "/tmp/who"]),
        twin_b.to_string()
    );
    assert_eq!(fleet.code(svc, &["status"]), 3);
    assert_eq!(fleet.code(api, &["status"]), 3);

    // and each of the rest is removed on its own
    for i in [svc, api, twin_b] {
        fleet.ok(i, &["rm", "-f"]);
        assert_eq!(fleet.code(i, &["status"]), 4);
    }
    assert!(
        libvirt_leftovers(&slugs[svc]).is_empty(),
        "nothing of the VM is left"
    );
    for i in [twin_b, api] {
        assert!(podman_labelled(&slugs[i]).is_empty());
    }
}
