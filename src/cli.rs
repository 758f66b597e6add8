//! The command line, as clap types only. Doc comments are the help text.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// One .env per project folder: isolated VMs (Vagrant + libvirt) and containers (Podman).
///
/// Run it in a folder whose `.env` sets INFRA_TYPE, MEMORY, CPUS and DISK (`tmpl init` writes
/// one). tmpl finds the project from the current folder upward.
#[derive(Debug, Parser)]
#[command(name = "tmpl", version, about, long_about, propagate_version = true)]
pub struct Cli {
    /// Act as if tmpl was started in DIR
    #[arg(short = 'C', value_name = "DIR", global = true)]
    pub directory: Option<PathBuf>,

    /// Read settings from FILE instead of finding the project's `.env`
    #[arg(long, value_name = "FILE", global = true)]
    pub env_file: Option<PathBuf>,

    /// Treat a misspelt tmpl key in `.env` as an error, not a warning
    #[arg(long, global = true)]
    pub strict: bool,

    /// Echo every external command as `+ cmd args`
    #[arg(short, long, global = true)]
    pub verbose: bool,

    /// Print only errors and warnings
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// When another tmpl is working on this project, wait for it instead of failing
    #[arg(long, global = true)]
    pub wait: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create, start or adopt the project's VM or container (idempotent)
    Up(UpArgs),
    /// Open a shell in the guest, or run `-- CMD ARGS...` there
    Ssh(SshArgs),
    /// Run a command in the guest, in the project folder: `tmpl exec make test`
    Exec(ExecArgs),
    /// Stop the guest gracefully, forcing it after a timeout
    Stop(StopArgs),
    /// Remove the guest and everything tmpl made for it
    Rm(RmArgs),
    /// Show whether the guest is running, stopped or not created
    Status(JsonArgs),
    /// Check `.env` without creating anything (for pre-commit hooks and CI)
    Validate(ValidateArgs),
    /// Write a commented `.env` to start from
    Init(InitArgs),
    /// Print what would be used for this project: a Vagrantfile, or a container spec as JSON
    Render,
    /// Run the provisioning playbook or script again on the running guest
    Provision,
    /// List every project tmpl has brought up, with its live state
    Ls(JsonArgs),
    /// Summarise how long operations took on this host (count, median, p95)
    Stats(JsonArgs),
    /// Show what the credential broker did with the guest's requests (`SECRETS`)
    Secrets(SecretsArgs),
    /// Save, restore, list or delete snapshots of the guest (never of the project folder)
    Snapshot(SnapshotArgs),
    /// Run any Vagrant command against the project's VM: `tmpl vagrant -- snapshot save s1`
    Vagrant(VagrantArgs),
    /// Remove leftovers: guests, volumes, networks and files whose project is gone
    Gc(GcArgs),
    /// Approve the project's changed `.env` and provisioning file (trust on first use)
    Trust(TrustArgs),
    /// Bring the guest's commits into this repository, as the branches `tmpl/*`, to review
    /// and merge: the guest commits to a repository of its own, never to yours
    Fetch,
    /// Check that this host has what tmpl needs, and say how to fix what is missing
    Doctor(JsonArgs),
    /// Print an OpenSSH `Host` block for the project
    SshConfig(SshConfigArgs),
    /// Print a completion script for bash, zsh, fish, elvish or powershell
    ///
    /// bash: `tmpl completions bash > ~/.local/share/bash-completion/completions/tmpl`;
    /// zsh: `tmpl completions zsh > ~/.zfunc/_tmpl` (with `fpath+=~/.zfunc` before `compinit`);
    /// fish: `tmpl completions fish > ~/.config/fish/completions/tmpl.fish`.
    Completions(CompletionsArgs),
    /// Print the manual page (roff): `tmpl man | man -l -`
    Man(ManArgs),
    /// (internal) a fenced guest's own resolver, serving what DIR/dns.json says
    #[command(name = "__dns", hide = true)]
    Dns { dir: std::path::PathBuf },
    /// (internal) the root-run hook through which a driver's tool holds a person's fences
    /// (`__fence-hook vm ARGS...`, libvirt's network hook)
    #[command(name = "__fence-hook", hide = true)]
    FenceHook {
        driver: String,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// (internal) a guest's credential broker
    #[command(name = "__broker", hide = true)]
    Broker {
        #[command(subcommand)]
        action: BrokerAction,
    },
    /// (internal) serve the project folder to the guest through the share's policy until
    /// unmounted or stopped (SIGTERM)
    #[command(name = "__share", hide = true)]
    Share { config: std::path::PathBuf },
}

#[derive(Debug, Args)]
pub struct SecretsArgs {
    #[command(subcommand)]
    pub action: SecretsAction,
}

#[derive(Debug, Subcommand)]
pub enum SecretsAction {
    /// Every request the broker put a value into, withheld one from, or refused, oldest
    /// first: time, what it did, the names, the host, the method and path, the status
    Log(JsonArgs),
}

/// The broker's own steps (see `broker::daemon`).
#[derive(Debug, Subcommand)]
pub enum BrokerAction {
    /// Read the spec on stdin, start `serve` detached, say when it listens
    Start,
    /// Serve one guest
    Serve { dir: PathBuf },
    /// Whether anything listens at ADDR, where this runs
    Probe { addr: std::net::SocketAddr },
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write tmpl.1 and a page per subcommand (tmpl-up.1, ...) into DIR instead
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct JsonArgs {
    /// Print JSON on stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Run provisioning even if it already ran
    #[arg(long, conflicts_with = "no_provision")]
    pub provision: bool,
    /// Do not run provisioning
    #[arg(long)]
    pub no_provision: bool,
}

#[derive(Debug, Args)]
pub struct SshArgs {
    /// Command and arguments to run in the guest, passed exactly as given
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct VagrantArgs {
    /// Arguments for `vagrant`
    #[arg(last = true, value_name = "ARGS", required = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    #[command(subcommand)]
    pub action: SnapshotAction,
}

#[derive(Debug, Subcommand)]
pub enum SnapshotAction {
    /// Save the guest as snapshot NAME (a VM is shut down for it, then started again)
    Save { name: String },
    /// Put the guest back as it was in snapshot NAME
    Restore { name: String },
    /// List the guest's snapshots: name, time, size
    List(JsonArgs),
    /// Delete snapshot NAME
    Delete { name: String },
}

#[derive(Debug, Args)]
pub struct TrustArgs {
    /// Show every line of what would be approved (whole diffs, whole new files), then ask at
    /// a terminal; without one, approve nothing
    #[arg(long)]
    pub diff: bool,
}

#[derive(Debug, Args)]
pub struct GcArgs {
    /// Remove without asking
    #[arg(short, long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// The command and its arguments, passed exactly as given (no `--` needed)
    #[arg(
        value_name = "CMD",
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// Seconds to wait for a graceful shutdown before forcing it
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    pub timeout: u64,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Do not ask for confirmation
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Print the result as JSON on stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum InfraArg {
    Vm,
    Container,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Starting point: a built-in template (`tmpl init --list`) or one of yours
    #[arg(value_name = "TEMPLATE", conflicts_with = "infra_type")]
    pub template: Option<String>,
    /// Shorthand for the `vm` or `container` template
    #[arg(long = "type", value_enum)]
    pub infra_type: Option<InfraArg>,
    /// List the templates and exit
    #[arg(long)]
    pub list: bool,
    /// Replace an existing tmpl `.env` (the old one is kept as `.env.bak`)
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct SshConfigArgs {
    /// Keep the block in ~/.ssh/config.d/tmpl/ and include it from ~/.ssh/config
    #[arg(long)]
    pub write: bool,
}
