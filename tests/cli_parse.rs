//! How `tmpl exec` splits its command line: everything after the subcommand is the guest's
//! command, except tmpl's own options given before it.

use clap::Parser;
use tmpl::cli::{Cli, Command};

fn exec(args: &[&str]) -> (Vec<String>, bool) {
    let cli = Cli::try_parse_from(args).unwrap();
    match cli.command {
        Command::Exec(a) => (a.command, cli.quiet),
        other => panic!("parsed as {other:?}"),
    }
}

#[test]
fn exec_takes_the_rest_of_the_line_as_the_command() {
    let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(exec(&["tmpl", "exec", "ls", "-la"]).0, v(&["ls", "-la"]));
    assert_eq!(
        exec(&["tmpl", "exec", "--", "ls", "-x"]).0,
        v(&["ls", "-x"])
    );
    assert_eq!(
        exec(&["tmpl", "exec", "make", "--", "-q"]).0,
        v(&["make", "--", "-q"])
    );
    // tmpl's own options before the command stay tmpl's; after it they are the command's
    assert_eq!(exec(&["tmpl", "-q", "exec", "ls"]), (v(&["ls"]), true));
    assert_eq!(
        exec(&["tmpl", "exec", "grep", "-q", "x"]),
        (v(&["grep", "-q", "x"]), false)
    );
    assert!(
        Cli::try_parse_from(["tmpl", "exec"]).is_err(),
        "a command is required"
    );
}
