//! One file per subcommand; `dispatch` maps the parsed command line onto them.

mod completions;
mod doctor;
mod gc;
mod init;
mod ls;
mod man;
mod provision;
mod render;
mod rm;
mod snapshot;
mod ssh;
mod ssh_config;
mod stats;
mod status;
mod stop;
mod tool;
mod trust;
mod up;
mod validate;

use crate::cli::{Cli, Command};
use crate::context::Ctx;
use crate::driver::Registry;
use crate::error::ExitStatus;
use anyhow::Result;

pub fn dispatch(cli: Cli, registry: Registry) -> Result<ExitStatus> {
    if let Command::FenceRefresh { state_dir } = &cli.command {
        let holders: Vec<_> = registry.all().map(|d| d.fence_holder()).collect();
        crate::fence::refresh_loop(state_dir, &holders)?;
        return Ok(ExitStatus::Success);
    }
    if let Command::Share { config } = &cli.command {
        crate::share::run(config)?;
        return Ok(ExitStatus::Success);
    }
    let mut ctx = Ctx::new(cli.directory.as_deref(), cli.env_file, cli.strict, registry)?;
    ctx.wait = cli.wait;
    match cli.command {
        Command::Validate(a) => validate::run(&ctx, &a),
        Command::Init(a) => init::run(&ctx, &a),
        Command::Render => render::run(&ctx),
        Command::Up(a) => up::run(&ctx, &a),
        Command::Ssh(a) => ssh::run(&ctx, &a),
        Command::Exec(a) => ssh::run(&ctx, &crate::cli::SshArgs { command: a.command }),
        Command::Completions(a) => completions::run(a.shell),
        Command::Man(a) => man::run(a.out.as_deref()),
        Command::FenceRefresh { .. } | Command::Share { .. } => {
            unreachable!("handled before the context")
        }
        Command::Stop(a) => stop::run(&ctx, &a),
        Command::Rm(a) => rm::run(&ctx, &a),
        Command::Status(a) => status::run(&ctx, &a),
        Command::Provision => provision::run(&ctx),
        Command::Ls(a) => ls::run(&ctx, &a),
        Command::Stats(a) => stats::run(&ctx, &a),
        Command::Vagrant(a) => tool::run(&ctx, &a.args),
        Command::Snapshot(a) => snapshot::run(&ctx, &a),
        Command::Gc(a) => gc::run(&ctx, &a),
        Command::Trust => trust::run(&ctx),
        Command::Doctor(a) => doctor::run(&ctx, &a),
        Command::SshConfig(a) => ssh_config::run(&ctx, &a),
    }
}
