//! One file per subcommand; `dispatch` maps the parsed command line onto them.

mod completions;
mod doctor;
mod fetch;
mod gc;
mod init;
mod ls;
mod man;
mod provision;
mod render;
mod rm;
mod secrets;
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

use crate::cli::{BrokerAction, Cli, Command};
use crate::context::Ctx;
use crate::driver::Registry;
use crate::error::ExitStatus;
use anyhow::Result;

pub fn dispatch(cli: Cli, registry: Registry) -> Result<ExitStatus> {
    match &cli.command {
        Command::Dns { dir } => {
            crate::fence::dns::run(dir)?;
            return Ok(ExitStatus::Success);
        }
        Command::FenceHook { driver, args } => {
            let hook = registry.get(driver).and_then(|d| d.fence_hook(args));
            return match hook {
                Some(result) => result.map(|()| ExitStatus::Success),
                None => Ok(ExitStatus::Success),
            };
        }
        _ => {}
    }
    if let Command::Broker { action } = &cli.command {
        return match action {
            BrokerAction::Start => crate::broker::daemon::start_main(),
            BrokerAction::Serve { dir } => crate::broker::daemon::serve_main(dir),
            BrokerAction::Probe { addr } => Ok(crate::broker::daemon::probe_main(*addr)),
        };
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
        Command::Dns { .. }
        | Command::FenceHook { .. }
        | Command::Broker { .. }
        | Command::Share { .. } => {
            unreachable!("handled before the context")
        }
        Command::Secrets(a) => secrets::run(&ctx, &a),
        Command::Stop(a) => stop::run(&ctx, &a),
        Command::Rm(a) => rm::run(&ctx, &a),
        Command::Status(a) => status::run(&ctx, &a),
        Command::Provision => provision::run(&ctx),
        Command::Ls(a) => ls::run(&ctx, &a),
        Command::Stats(a) => stats::run(&ctx, &a),
        Command::Vagrant(a) => tool::run(&ctx, &a.args),
        Command::Snapshot(a) => snapshot::run(&ctx, &a),
        Command::Gc(a) => gc::run(&ctx, &a),
        Command::Trust(a) => trust::run(&ctx, &a),
        Command::Fetch => fetch::run(&ctx),
        Command::Doctor(a) => doctor::run(&ctx, &a),
        Command::SshConfig(a) => ssh_config::run(&ctx, &a),
    }
}
