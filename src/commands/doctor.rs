//! `tmpl doctor`: does this host have what the project (or, outside a project, any project)
//! needs? One line per check, and for each failure the command that fixes it, then the
//! leftovers (`tmpl gc` removes them). Each driver brings its own checks; doctor looks and
//! never starts or changes anything.
//!
//! Optional checks (the KVM driver) are shown but do not fail: without KVM, VMs run under
//! software emulation, slowly but correctly.

use crate::backend::{Check, Wants};
use crate::cli::JsonArgs;
use crate::config::{InfraType, ProvisionKind};
use crate::context::Ctx;
use crate::error::{ExitStatus, Failure};
use crate::{host, output};
use anyhow::Result;
use serde::Serialize;

/// The checks for what a project needs, or for everything when there is no valid project.
fn checks(ctx: &Ctx) -> Vec<Check> {
    let config = ctx
        .project()
        .ok()
        .and_then(|p| ctx.validate(&p).ok())
        .map(|(c, _)| c);
    let types: Vec<InfraType> = match &config {
        Some(c) => vec![c.infra_type],
        None => ctx.registry.all().map(|d| d.infra_type()).collect(),
    };
    // without a project, every optional need counts as wanted
    let wants = Wants {
        sync: config.as_ref().map_or(true, |c| c.sync.is_some()),
    };
    let mut out: Vec<Check> = Vec::new();
    for t in types.iter().copied() {
        out.extend(ctx.registry.driver(t).host_checks(&ctx.dirs, wants));
    }
    let lowest_port = config
        .as_ref()
        .and_then(|c| c.ports.iter().map(|p| p.host_port).min());
    out.extend(crate::person_checks::checks(&types, lowest_port));
    let fenced = config.as_ref().map_or(true, |c| {
        c.egress != crate::config::Egress::Open || !c.egress_allow.is_empty()
    });
    // a person's containers are fenced in their Podman, their VMs only by root: one line each
    let mut holders: Vec<(crate::fence::Holder, InfraType)> = Vec::new();
    for t in &types {
        let h = crate::fence::holder_for(*t);
        if !holders.iter().any(|(seen, _)| *seen == h) {
            holders.push((h, *t));
        }
    }
    for (h, t) in &holders {
        let name = match (holders.len(), t) {
            (1, _) => "network fence".to_owned(),
            (_, InfraType::Vm) => "network fence (VMs)".to_owned(),
            (_, InfraType::Container) => "network fence (containers)".to_owned(),
        };
        out.push(Check::of(&name, fenced, crate::fence::can_enforce(*h)));
    }
    out.extend(
        host::needed_by("any")
            .iter()
            .map(|r| host::check_program(r, true)),
    );
    let playbook = config.as_ref().map_or(true, |c| {
        c.provision
            .as_ref()
            .is_some_and(|p| p.kind == ProvisionKind::Ansible)
    });
    out.extend(
        host::needed_by("provision")
            .iter()
            .map(|r| host::check_program(r, playbook)),
    );
    out
}

/// What `--json` prints: the verdict, every check, every leftover.
#[derive(Serialize)]
struct Report {
    ok: bool,
    checks: Vec<Check>,
    leftovers: Vec<crate::leftovers::Found>,
}

impl Report {
    /// One line per check (and its fix under it), then the leftovers. The marks stand before
    /// the table: a coloured one is longer than it looks, and would push its row out of line.
    fn print(&self) {
        let s = output::Styled;
        let mut marks = Vec::new();
        let mut table = output::Table::new(&[]);
        for c in &self.checks {
            marks.push(match (c.ok, c.required) {
                (true, _) => s.green("✓"),
                (false, true) => s.red_bold("✗"),
                (false, false) => s.yellow_bold("!"),
            });
            table.row([c.name.clone(), c.detail.clone()]);
            if let Some(fix) = &c.fix {
                marks.push(" ".into());
                table.row([String::new(), format!("fix: {fix}")]);
            }
        }
        for f in &self.leftovers {
            let l = &f.leftover;
            marks.push(s.yellow_bold("!"));
            table.row([
                "leftover".into(),
                format!("{} {} ({})", l.kind, l.name, l.why),
            ]);
        }
        for (mark, line) in marks.iter().zip(table.lines()) {
            output::line(format!("{mark} {line}").trim_end());
        }
        if !self.leftovers.is_empty() {
            output::line(format!(
                "  `tmpl gc` removes the {} leftover(s)",
                self.leftovers.len()
            ));
        }
    }
}

pub fn run(ctx: &Ctx, args: &JsonArgs) -> Result<ExitStatus> {
    let checks = checks(ctx);
    let report = Report {
        ok: checks.iter().all(|c| c.ok || !c.required),
        checks,
        leftovers: crate::leftovers::find(&ctx.registry, &ctx.dirs),
    };
    if args.json {
        output::json(&report)?;
    } else {
        report.print();
    }
    if report.ok {
        return Ok(ExitStatus::Success);
    }
    Err(
        Failure::new(ExitStatus::Unavailable, "some required checks failed")
            .hint("each ✗ line says how to fix it")
            .into(),
    )
}
