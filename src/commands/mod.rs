//! One file per subcommand; `dispatch` maps the parsed command line onto them.

mod init;
mod render;
mod validate;

use crate::cli::{Cli, Command};
use crate::context::Ctx;
use crate::error::{code, Failure};
use anyhow::Result;

pub fn dispatch(cli: Cli) -> Result<u8> {
    let ctx = Ctx::new(cli.directory.as_deref(), cli.env_file, cli.strict)?;
    match cli.command {
        Command::Validate(a) => validate::run(&ctx, &a),
        Command::Init(a) => init::run(&ctx, &a),
        Command::Render => render::run(&ctx),
        Command::Up(_) => not_yet("up"),
        Command::Ssh(_) => not_yet("ssh"),
        Command::Stop(_) => not_yet("stop"),
        Command::Rm(_) => not_yet("rm"),
        Command::Status(_) => not_yet("status"),
        Command::Provision => not_yet("provision"),
        Command::Ls(_) => not_yet("ls"),
        Command::Doctor(_) => not_yet("doctor"),
        Command::SshConfig(_) => not_yet("ssh-config"),
    }
}

fn not_yet(verb: &str) -> Result<u8> {
    Err(Failure::new(
        code::NOT_IMPLEMENTED,
        format!("`tmpl {verb}` is not available in this version of tmpl"),
    )
    .hint("`tmpl validate`, `tmpl render` and `tmpl init` work today")
    .into())
}
