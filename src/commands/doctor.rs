//! `tmpl doctor`: does this host have what the project (or, outside a project, any project)
//! needs? One line per check, and for each failure the command that fixes it, then the
//! leftovers (`tmpl gc` removes them). Each driver brings its own checks; doctor looks and
//! never starts or changes anything.
//!
//! Optional checks (the KVM driver) are shown but do not fail: without KVM, VMs run under
//! software emulation, slowly but correctly.

use crate::cli::JsonArgs;
use crate::context::Ctx;
use crate::error::{ExitStatus, Failure};
use crate::output;
use anyhow::Result;

pub fn run(ctx: &Ctx, args: &JsonArgs) -> Result<ExitStatus> {
    // the project's needs when there is a valid one here, everything's otherwise
    let finder = ctx.finder();
    let config = finder
        .project()
        .ok()
        .and_then(|p| finder.validate(&p).ok())
        .map(|(c, _)| c);
    let results = crate::session::checks::host_checks(&ctx.registry, &ctx.dirs, config.as_ref());
    let healthy = results.iter().all(|c| c.ok || !c.required);
    let leftovers = crate::session::leftovers::find(&ctx.registry, &ctx.dirs);
    if args.json {
        let v = serde_json::json!({ "ok": healthy, "checks": results, "leftovers": leftovers });
        output::json(&v)?;
    } else {
        let s = output::Styled;
        for c in &results {
            let mark = match (c.ok, c.required) {
                (true, _) => s.green("✓"),
                (false, true) => s.red_bold("✗"),
                (false, false) => s.yellow_bold("!"),
            };
            output::line(format!("{mark} {:<18} {}", c.name, c.detail));
            if let Some(fix) = &c.fix {
                output::line(format!("  {:<18} fix: {fix}", ""));
            }
        }
        for f in &leftovers {
            let l = &f.leftover;
            let mark = s.yellow_bold("!");
            output::line(format!("{mark} leftover {} {} ({})", l.kind, l.name, l.why));
        }
        if !leftovers.is_empty() {
            output::line(format!(
                "  `tmpl gc` removes the {} leftover(s)",
                leftovers.len()
            ));
        }
    }
    if healthy {
        return Ok(ExitStatus::Success);
    }
    Err(
        Failure::new(ExitStatus::Unavailable, "some required checks failed")
            .hint("each ✗ line says how to fix it")
            .into(),
    )
}
