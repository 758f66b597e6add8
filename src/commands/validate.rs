//! `tmpl validate`: every problem at once, for people and for pre-commit hooks.

use crate::cli::ValidateArgs;
use crate::config;
use crate::context::Ctx;
use crate::error::code;
use crate::project;
use crate::ui;
use anyhow::Result;
use serde_json::json;

pub fn run(ctx: &Ctx, args: &ValidateArgs) -> Result<u8> {
    let project = ctx.project()?;
    let file = ctx.show(&project.env_path);
    let result = config::validate(&project.env, &project.dir, ctx.strict);
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
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(if result.is_ok() {
            code::OK
        } else {
            code::CONFIG
        });
    }
    match result {
        Ok((c, report)) => {
            for w in &report.warnings {
                ui::warn(format!("{}: {}", ctx.place(&project, w.line), w.message));
            }
            ui::info(format!(
                "{file} is valid: {} with {} MiB, {} CPU{}, {} GiB disk",
                c.infra_type,
                c.memory_mib,
                c.cpus,
                if c.cpus == 1 { "" } else { "s" },
                c.disk_gib
            ));
            Ok(code::OK)
        }
        Err(report) => {
            for w in &report.warnings {
                ui::warn(format!("{}: {}", ctx.place(&project, w.line), w.message));
            }
            Err(ctx.invalid(&project, &report).into())
        }
    }
}
