//! `tmpl validate`: every problem at once, for people and for pre-commit hooks.

use crate::cli::ValidateArgs;
use crate::context::Ctx;
use crate::error::ExitStatus;
use crate::project;
use crate::ui;
use anyhow::Result;
use serde_json::json;

pub fn run(ctx: &Ctx, args: &ValidateArgs) -> Result<ExitStatus> {
    let project = ctx.project()?;
    let file = ctx.show(&project.env_path);
    let finder = ctx.finder();
    let result = finder.validate(&project);
    if args.json {
        let out = match &result {
            Ok((c, report)) => {
                let id = project::identity(&project.dir, c.name.as_deref(), &ctx.dirs);
                json!({
                    "valid": true, "file": file, "project_dir": project.dir,
                    "name": id.name, "slug": id.slug, "config": c,
                    "problems": [], "warnings": report.warnings,
                })
            }
            Err(report) => json!({
                "valid": false, "file": file, "project_dir": project.dir,
                "problems": report.problems, "warnings": report.warnings,
            }),
        };
        crate::output::json(&out)?;
        // the JSON is the whole report: the exit code alone says it is invalid
        return match result {
            Err(_) => Err(crate::error::Failure::told(ExitStatus::Config).into()),
            Ok(_) => Ok(ExitStatus::Success),
        };
    }
    match result {
        Ok((c, report)) => {
            for w in &report.warnings {
                ui::warn(format!("{}: {}", finder.place(&project, w.line), w.message));
            }
            ui::info(format!(
                "{file} is valid: {} with {} MiB, {} CPU{}, {} GiB disk",
                c.infra_type,
                c.memory_mib,
                c.cpus,
                if c.cpus == 1 { "" } else { "s" },
                c.disk_gib
            ));
            Ok(ExitStatus::Success)
        }
        Err(report) => {
            for w in &report.warnings {
                ui::warn(format!("{}: {}", finder.place(&project, w.line), w.message));
            }
            Err(finder.invalid(&project, &report).into())
        }
    }
}
