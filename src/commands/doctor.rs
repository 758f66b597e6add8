//! `tmpl doctor`: does this host have what the project (or, outside a project, any project)
//! needs? One line per check, and for each failure the command that fixes it, then the
//! leftovers (`tmpl gc` removes them). Each driver brings its own checks; doctor looks and
//! never starts or changes anything.
//!
//! Optional checks (the KVM driver) are shown but do not fail: without KVM, VMs run under
//! software emulation, slowly but correctly.

use crate::check::Check;
use crate::cli::JsonArgs;
use crate::context::Ctx;
use crate::error::{ExitStatus, Failure};
use crate::output;
use crate::session::leftovers::Found;
use anyhow::Result;
use serde::Serialize;

/// What `--json` prints: the verdict, every check, every leftover.
#[derive(Serialize)]
struct Report {
    ok: bool,
    checks: Vec<Check>,
    leftovers: Vec<Found>,
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
    // the project's needs when there is a valid one here, everything's otherwise
    let finder = ctx.finder();
    let config = finder
        .project()
        .ok()
        .and_then(|p| finder.validate(&p).ok())
        .map(|(c, _)| c);
    let checks = crate::session::checks::host_checks(&ctx.registry, &ctx.dirs, config.as_ref());
    let report = Report {
        ok: checks.iter().all(|c| c.ok || !c.required),
        checks,
        leftovers: crate::session::leftovers::find(&ctx.registry, &ctx.dirs),
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
