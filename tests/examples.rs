//! The examples in `examples/` without creating any guest: every `.env` validates, every
//! playbook parses, the k3s wrappers use only the project's kubeconfig, and the pre-commit
//! examples name hooks that exist. Needs `ansible-playbook` and `python3` (`make setup`).

use std::path::{Path, PathBuf};
use std::process::Command;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

fn run(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    eprintln!(
        "{cmd:?} -> {:?}\n{}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
#[cfg_attr(
    not(feature = "host-tools"),
    ignore = "needs the tools `make setup` installs: `cargo test --features host-tools`"
)]
fn every_example_env_validates() {
    let mut checked = Vec::new();
    for entry in std::fs::read_dir(examples()).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.join(".env").is_file() {
            continue;
        }
        let out = run(Command::new(env!("CARGO_BIN_EXE_tmpl"))
            .args(["validate", "--strict"])
            .current_dir(&dir)
            .env("NO_COLOR", "1"));
        assert!(out.status.success(), "{} does not validate", dir.display());
        checked.push(dir.file_name().unwrap().to_string_lossy().into_owned());
    }
    for must in ["k3s", "arch-cloud-image", "agent-sandbox"] {
        assert!(
            checked.iter().any(|c| c == must),
            "{must} was checked: {checked:?}"
        );
    }
}

#[test]
#[cfg_attr(
    not(feature = "host-tools"),
    ignore = "needs the tools `make setup` installs: `cargo test --features host-tools`"
)]
fn example_playbooks_parse() {
    for book in [
        "k3s/provision/k3s.yml",
        "arch-cloud-image/provision/site.yml",
    ] {
        let out = run(Command::new("ansible-playbook")
            .args(["--syntax-check", "-i", "localhost,"])
            .arg(examples().join(book)));
        assert!(out.status.success(), "{book} does not parse");
    }
}

#[test]
#[cfg_attr(
    not(feature = "host-tools"),
    ignore = "needs the tools `make setup` installs: `cargo test --features host-tools`"
)]
fn the_invoke_tasks_compile() {
    // compile() without writing a __pycache__ into the repository
    let out = run(Command::new("python3")
        .args([
            "-c",
            "import sys; compile(open(sys.argv[1]).read(), sys.argv[1], 'exec')",
        ])
        .arg(examples().join("invoke/tasks.py")));
    assert!(out.status.success());
}

/// A copy of examples/k3s with a fake kubectl and k9s further down PATH that report what
/// they were given.
#[test]
#[cfg_attr(
    not(feature = "host-tools"),
    ignore = "needs the tools `make setup` installs: `cargo test --features host-tools`"
)]
fn k3s_wrappers_use_the_projects_kubeconfig_only() {
    let d = tempfile::tempdir().unwrap();
    let project = d.path().join("cluster");
    let bin = project.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy(examples().join("k3s/bin/kubectl"), bin.join("kubectl")).unwrap();
    let link = std::fs::read_link(examples().join("k3s/bin/k9s")).unwrap();
    assert_eq!(link, Path::new("kubectl"), "bin/k9s is the same script");
    std::os::unix::fs::symlink("kubectl", bin.join("k9s")).unwrap();
    let real = d.path().join("real");
    std::fs::create_dir_all(&real).unwrap();
    for tool in ["kubectl", "k9s"] {
        let p = real.join(tool);
        std::fs::write(
            &p,
            format!("#!/bin/sh\necho \"{tool} KUBECONFIG=$KUBECONFIG args=$*\"\n"),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let home = d.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let wrapper = |tool: &str, path: String| {
        run(Command::new(bin.join(tool))
            .args(["get", "pods"])
            .env("PATH", path)
            .env("HOME", &home)
            .env_remove("KUBECONFIG"))
    };
    // bin/ first on PATH, as people set it up: the wrapper must skip itself
    let path = format!("{}:{}:/usr/bin:/bin", bin.display(), real.display());

    let out = wrapper("kubectl", path.clone());
    assert_eq!(out.status.code(), Some(1), "no kubeconfig yet");
    assert!(String::from_utf8_lossy(&out.stderr).contains("`tmpl up`"));

    std::fs::create_dir_all(project.join(".kube")).unwrap();
    std::fs::write(project.join(".kube/config"), "apiVersion: v1\n").unwrap();
    let config = project.canonicalize().unwrap().join(".kube/config");
    for tool in ["kubectl", "k9s"] {
        let out = wrapper(tool, path.clone());
        assert!(out.status.success());
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            format!("{tool} KUBECONFIG={} args=get pods", config.display())
        );
    }
    assert!(!home.join(".kube").exists(), "~/.kube is never touched");

    // a PATH with nothing but the wrapper and the tools it uses
    let tools = d.path().join("tools");
    std::fs::create_dir_all(&tools).unwrap();
    for t in ["basename", "dirname"] {
        std::os::unix::fs::symlink(format!("/usr/bin/{t}"), tools.join(t)).unwrap();
    }
    let out = wrapper("kubectl", format!("{}:{}", bin.display(), tools.display()));
    assert_eq!(
        out.status.code(),
        Some(127),
        "no real kubectl: said, not looped"
    );
}

#[test]
#[cfg_attr(
    not(feature = "host-tools"),
    ignore = "needs the tools `make setup` installs: `cargo test --features host-tools`"
)]
fn pre_commit_examples_name_hooks_that_exist() {
    let ids = |text: &str| -> Vec<String> {
        text.lines()
            .filter_map(|l| {
                l.trim()
                    .strip_prefix("- id:")
                    .or_else(|| l.trim().strip_prefix("id:"))
            })
            .map(|s| s.trim().to_owned())
            .collect()
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let offered = ids(&std::fs::read_to_string(root.join(".pre-commit-hooks.yaml")).unwrap());
    for f in [
        ".pre-commit-config.yaml",
        "installed-tmpl.pre-commit-config.yaml",
    ] {
        let used = ids(&std::fs::read_to_string(examples().join("pre-commit").join(f)).unwrap());
        assert!(!used.is_empty());
        for id in used {
            assert!(
                offered.contains(&id),
                "{f} uses hook `{id}`, not in .pre-commit-hooks.yaml"
            );
        }
    }
}
