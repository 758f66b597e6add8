//! `tmpl completions SHELL` and `tmpl man`, loaded by the real shells and by groff. Needs bash,
//! zsh, fish and groff (`make setup` installs them).

use std::process::Command;

fn tmpl(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_tmpl"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tmpl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn script_file(shell: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join(format!("tmpl.{shell}"));
    std::fs::write(&f, tmpl(&["completions", shell])).unwrap();
    (d, f)
}

fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} is needed for this test (`make setup`): {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
#[cfg_attr(
    not(feature = "host-tools"),
    ignore = "needs the tools `make setup` installs: `cargo test --features host-tools`"
)]
fn bash_completes_subcommands_and_shells() {
    let (_d, f) = script_file("bash");
    let complete = |words: &str, cword: usize| {
        let script = format!(
            r#"source '{}'
COMP_WORDS=({words}); COMP_CWORD={cword}; COMP_LINE="${{COMP_WORDS[*]}}"; COMP_POINT=${{#COMP_LINE}}
_tmpl tmpl "${{COMP_WORDS[$COMP_CWORD]}}" "${{COMP_WORDS[$((COMP_CWORD-1))]}}"
printf '%s\n' "${{COMPREPLY[@]}}""#,
            f.display()
        );
        run("bash", &["-c", &script])
    };
    let subs = complete("tmpl ex", 1);
    assert_eq!(subs.trim(), "exec");
    let shells = complete("tmpl completions ''", 2);
    for s in ["bash", "zsh", "fish"] {
        assert!(shells.lines().any(|l| l == s), "{s} in {shells:?}");
    }
}

#[test]
#[cfg_attr(
    not(feature = "host-tools"),
    ignore = "needs the tools `make setup` installs: `cargo test --features host-tools`"
)]
fn fish_completes_subcommands() {
    let (_d, f) = script_file("fish");
    let out = run(
        "fish",
        &[
            "--no-config",
            "-c",
            &format!("source '{}'; complete -C 'tmpl ex'", f.display()),
        ],
    );
    assert!(out.lines().any(|l| l.starts_with("exec")), "{out}");
}

#[test]
#[cfg_attr(
    not(feature = "host-tools"),
    ignore = "needs the tools `make setup` installs: `cargo test --features host-tools`"
)]
fn zsh_loads_the_completion_function() {
    let (d, f) = script_file("zsh");
    std::fs::rename(&f, d.path().join("_tmpl")).unwrap();
    // compinit finds `_tmpl` on fpath and binds it to `tmpl`
    let script = format!(
        "fpath=('{}' $fpath); autoload -U compinit; compinit -u -D; print -r -- ${{_comps[tmpl]}}; autoload -U +X _tmpl; whence -w _tmpl",
        d.path().display()
    );
    let out = run("zsh", &["-f", "-c", &script]);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["_tmpl", "_tmpl: function"],
        "{out}"
    );
    let text = std::fs::read_to_string(d.path().join("_tmpl")).unwrap();
    assert!(
        text.contains("'exec:Run a command in the guest"),
        "zsh lists exec with its help"
    );
}

#[test]
#[cfg_attr(
    not(feature = "host-tools"),
    ignore = "needs the tools `make setup` installs: `cargo test --features host-tools`"
)]
fn the_man_pages_render_cleanly_and_the_main_one_lists_the_commands() {
    let d = tempfile::tempdir().unwrap();
    let main = d.path().join("stdout.1");
    std::fs::write(&main, tmpl(&["man"])).unwrap();
    tmpl(&["man", "--out", d.path().to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(&main).unwrap(),
        std::fs::read_to_string(d.path().join("tmpl.1")).unwrap(),
        "`tmpl man` prints the same page that `--out` writes"
    );
    let render = |page: &str| {
        let out = Command::new("groff")
            .args(["-man", "-Tutf8", "-ww", "-P-cbou"])
            .arg(d.path().join(page))
            .env("LC_ALL", "C.UTF-8")
            .output()
            .expect("groff is needed for this test (`make setup`)");
        assert!(out.status.success());
        let warnings = String::from_utf8_lossy(&out.stderr);
        assert!(
            warnings.trim().is_empty(),
            "groff warnings for {page}: {warnings}"
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let text = render("tmpl.1");
    for cmd in ["up", "ssh", "exec", "stop", "rm", "completions", "man"] {
        // every page the main one refers to exists, and renders
        assert!(
            text.contains(&format!("tmpl-{cmd}(1)")),
            "`{cmd}` is listed:\n{text}"
        );
        let sub = render(&format!("tmpl-{cmd}.1"));
        assert!(sub.contains("SYNOPSIS"), "tmpl-{cmd}.1 is a page");
    }
    assert!(
        render("tmpl-exec.1").contains("<CMD>"),
        "exec's page shows its arguments"
    );
}
