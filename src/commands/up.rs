//! `tmpl up`: make the project's guest run, whatever state it is in, and make it reachable.

use crate::backend::{self, UpOutcome};
use crate::cli::UpArgs;
use crate::context::Ctx;
use crate::error::ExitStatus;
use crate::provision::{self, Target, When};
use crate::ssh::Access;
use crate::timing::Phases;
use crate::{projects, ui};
use anyhow::Result;
use std::time::Duration;

/// How long a new or restarted guest may take to accept SSH (software emulation is slow).
const SSH_TIMEOUT: Duration = Duration::from_secs(300);

pub fn run(ctx: &Ctx, args: &UpArgs) -> Result<ExitStatus> {
    let loaded = ctx.load()?;
    let _lock = ctx.lock(&loaded)?;
    let backend = ctx.backend(&loaded, backend::Connect::MayStart)?;
    super::snapshot::recover(backend.as_ref())?;
    let mut phases = Phases::new("up");
    let state = backend.live()?.state;
    let will_provision = provision_wanted(&loaded, state, args);
    let approved = crate::trust::ensure(&ctx.dirs.state, &loaded, "up", will_provision)?;
    if state != backend::State::Running {
        crate::preflight::check(
            &loaded,
            &backend.needs(),
            state == backend::State::NotCreated,
        )?;
    }
    crate::interrupt::install();
    let infra = loaded.config.infra_type.to_string();
    // The fence goes up before the guest runs, on every `up`: a rule the host lost (a
    // reboot, a flushed ruleset) is back before the guest can use the gap.
    let net = backend.network()?;
    if let Some(net) = &net {
        phases
            .run("fence", "fencing the guest's network", || {
                crate::fence::enforce(&loaded, net)
            })
            .map_err(|e| phases.record_error(&ctx.dirs.state, &loaded.id.slug, &infra, e))?;
    }
    let (outcome, endpoint) = backend
        .up(&mut phases)
        .map_err(|e| phases.record_error(&ctx.dirs.state, &loaded.id.slug, &infra, e))?;
    // A person's Podman removes its network namespace, fence and all, when their last
    // container stops, and makes a new one at the next start: a start that raced another
    // project's stop is in a namespace without the fence. Checked again once it runs.
    if let Some(net) = &net {
        if crate::fence::holder_for(loaded.config.infra_type)
            == crate::fence::Holder::RootlessPodman
        {
            crate::fence::enforce(&loaded, net)
                .map_err(|e| phases.record_error(&ctx.dirs.state, &loaded.id.slug, &infra, e))?;
        }
    }
    let access = reach(&loaded, backend.as_ref(), outcome, &endpoint, &mut phases)
        .map_err(|e| phases.record_error(&ctx.dirs.state, &loaded.id.slug, &infra, e))?;
    projects::remember(&ctx.dirs.state, &loaded)?;
    ctx.dirs.keep_private();
    let provisioned = provision_step(
        &loaded,
        backend.as_ref(),
        &approved,
        &access,
        &endpoint,
        outcome,
        args,
        &mut phases,
    );
    let what = match outcome {
        UpOutcome::AlreadyRunning => "already running",
        UpOutcome::Started => "started",
        UpOutcome::Created => "created",
    };
    phases.record(
        &ctx.dirs.state,
        &loaded.id.slug,
        &loaded.config.infra_type.to_string(),
        if provisioned.is_err() {
            "provision_failed"
        } else {
            what
        },
    );
    let provisioned = match provisioned {
        Ok(ran) => ran,
        Err(e) => {
            ui::info(phases.summary());
            return Err(e);
        }
    };
    ui::info(format!(
        "{} {what}: `tmpl ssh` opens a shell",
        loaded.id.name
    ));
    if outcome != UpOutcome::AlreadyRunning || provisioned {
        ui::info(phases.summary());
    }
    Ok(ExitStatus::Success)
}

/// The one place SSH is set up, for every kind of guest (`up`, and `snapshot` bringing one
/// back): a new guest has new host keys, and the config follows the guest wherever it is now.
pub(super) fn reach(
    loaded: &crate::context::Loaded,
    backend: &dyn crate::backend::Backend,
    outcome: UpOutcome,
    endpoint: &crate::ssh::Endpoint,
    phases: &mut Phases,
) -> Result<Access> {
    let access = Access::new(&loaded.id.slug, &loaded.id.state_dir);
    if outcome == UpOutcome::Created {
        access.forget_host_keys();
        if let Some(public) = backend.host_key() {
            access.pin_host_key(&public)?;
        }
    }
    let moved = access.write_config(endpoint)?;
    // A running guest is only trusted to be reachable when nothing changed and its SSH port
    // accepts a connection: an earlier `up` may have been interrupted while sshd started.
    if outcome != UpOutcome::AlreadyRunning || moved || !crate::ssh::port_open(endpoint) {
        phases.run("ssh", "waiting for SSH", || {
            backend.wait_ready(&access, SSH_TIMEOUT)
        })?;
    }
    backend.settle(&access, phases)?;
    Ok(access)
}

/// Whether this `up` is going to provision (so its files must be approved first): a guest to
/// be created always, an existing one until a run has succeeded; the flags override.
fn provision_wanted(loaded: &crate::context::Loaded, state: backend::State, args: &UpArgs) -> bool {
    if loaded.config.provision.is_none() || args.no_provision {
        return false;
    }
    args.provision
        || state == backend::State::NotCreated
        || provision::decide(When::Needed, provision::last(&loaded.id.state_dir).as_ref()).is_some()
}

/// Provisions the guest when it needs it (see `provision`): a new guest always, an existing
/// one until a run has succeeded; `--provision` and `--no-provision` override. Returns
/// whether it ran.
#[allow(clippy::too_many_arguments)]
fn provision_step(
    loaded: &crate::context::Loaded,
    backend: &dyn crate::backend::Backend,
    approved: &crate::trust::Approved,
    access: &Access,
    endpoint: &crate::ssh::Endpoint,
    outcome: UpOutcome,
    args: &UpArgs,
    phases: &mut Phases,
) -> Result<bool> {
    let state = &loaded.id.state_dir;
    if outcome == UpOutcome::Created {
        provision::forget(state)?;
    }
    let Some(script) = &loaded.config.provision else {
        if args.provision {
            ui::warn("`--provision`: `.env` sets no PROVISION_SCRIPT; nothing to provision");
        }
        return Ok(false);
    };
    let when = match (args.provision, args.no_provision) {
        (true, _) => When::Always,
        (_, true) => When::Never,
        _ => When::Needed,
    };
    let last = provision::last(state);
    let Some(reason) = provision::decide(when, last.as_ref()) else {
        if when == When::Never && last.map(|r| r.status) != Some(provision::Status::Succeeded) {
            ui::info("not provisioned (`--no-provision`): `tmpl provision` runs it");
        }
        return Ok(false);
    };
    let endpoint = &super::snapshot::before_provision(loaded, backend, endpoint, phases)?;
    let target = Target {
        loaded,
        access,
        endpoint,
    };
    phases.run("provision", &provision::label(script, Some(reason)), || {
        provision::run(&target, script, approved)
    })?;
    Ok(true)
}
