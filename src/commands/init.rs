//! `tmpl init`: a commented `.env` to start from.
//!
//! Nothing is lost: an application's `.env` without tmpl settings gets the template appended;
//! a tmpl `.env` is only replaced with `--force`, and then kept as `.env.bak`.

use crate::cli::{InfraArg, InitArgs};
use crate::context::Ctx;
use crate::error::{ExitStatus, Failure};
use crate::project;
use crate::ui;
use anyhow::{Context as _, Result};
use std::path::PathBuf;

pub const BUILTIN: &[(&str, &str, &str)] = &[
    (
        "vm",
        "a VM development environment (Vagrant + libvirt)",
        include_str!("init/vm.env"),
    ),
    (
        "container",
        "a container development environment (Podman)",
        include_str!("init/container.env"),
    ),
    (
        "minimal",
        "only the four required settings",
        include_str!("init/minimal.env"),
    ),
];

/// Templates of the user's in `~/.config/tmpl/templates/NAME.env`, shadowing built-in ones.
fn user_templates(ctx: &Ctx) -> Vec<(String, PathBuf)> {
    let dir = ctx.dirs.config.join("templates");
    let mut out: Vec<(String, PathBuf)> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "env"))
        .filter_map(|p| Some((p.file_stem()?.to_string_lossy().into_owned(), p)))
        .collect();
    out.sort();
    out
}

fn template_text(ctx: &Ctx, name: &str) -> Result<String> {
    if let Some((_, path)) = user_templates(ctx).into_iter().find(|(n, _)| n == name) {
        return std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()));
    }
    if let Some((_, _, text)) = BUILTIN.iter().find(|(n, _, _)| *n == name) {
        return Ok((*text).to_owned());
    }
    let names: Vec<String> = BUILTIN
        .iter()
        .map(|(n, _, _)| n.to_string())
        .chain(user_templates(ctx).into_iter().map(|(n, _)| n))
        .collect();
    Err(Failure::new(
        ExitStatus::Usage,
        format!("no init template named `{name}`"),
    )
    .detail(format!("templates: {}", names.join(", ")))
    .hint("`tmpl init --list` describes them")
    .into())
}

pub fn run(ctx: &Ctx, args: &InitArgs) -> Result<ExitStatus> {
    if args.list {
        for (name, about, _) in BUILTIN {
            crate::output::line(format!("{name:<12} {about}"));
        }
        for (name, path) in user_templates(ctx) {
            crate::output::line(format!("{name:<12} yours: {}", path.display()));
        }
        return Ok(ExitStatus::Success);
    }
    let name = match (&args.template, args.infra_type) {
        (Some(t), _) => t.clone(),
        (None, Some(InfraArg::Container)) => "container".into(),
        (None, _) => "vm".into(),
    };
    let text = template_text(ctx, &name)?;
    let path = match &ctx.env_file {
        Some(f) => ctx.cwd.join(f),
        None => ctx.cwd.join(".env"),
    };
    let shown = ctx.show(&path);
    // a `.env` the guest replaced with a link (to `~/.profile`, say) is never written through
    if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(Failure::new(
            ExitStatus::Failure,
            format!("{shown} is a symbolic link; tmpl does not write through it"),
        )
        .hint(
            "remove the link (it may point at a file outside the project), then `tmpl init` again",
        )
        .into());
    }
    match std::fs::read_to_string(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            write(&path, &text)?;
            ui::info(format!("wrote {shown} ({name}); edit it, then `tmpl up`"));
        }
        Err(e) => {
            return Err(
                Failure::new(ExitStatus::Failure, format!("cannot read {shown}: {e}")).into(),
            )
        }
        Ok(existing) => {
            let env = crate::config::EnvFile::parse(&path, &existing);
            if !project::has_tmpl_settings(&env) {
                let mut joined = existing.clone();
                if !joined.ends_with('\n') && !joined.is_empty() {
                    joined.push('\n');
                }
                joined.push('\n');
                joined.push_str(&text);
                write(&path, &joined)?;
                ui::info(format!("added tmpl settings ({name}) to the end of {shown}; its other settings are unchanged"));
            } else if args.force {
                let backup = path.with_file_name(format!(
                    "{}.bak",
                    path.file_name().unwrap_or_default().to_string_lossy()
                ));
                let _ = std::fs::remove_file(&backup);
                write(&backup, &existing).with_context(|| format!("cannot back up {shown}"))?;
                write(&path, &text)?;
                ui::info(format!(
                    "replaced {shown} ({name}); the old one is {}",
                    ctx.show(&backup)
                ));
            } else {
                return Err(Failure::new(
                    ExitStatus::Failure,
                    format!("{shown} already has tmpl settings; leaving it as it is"),
                )
                .hint("`tmpl init --force` replaces it and keeps the old one as `.env.bak`")
                .into());
            }
        }
    }
    approve_written(ctx);
    Ok(ExitStatus::Success)
}

/// The settings `init` wrote are the person's own: approve them (see `trust`), so the first
/// `up` only asks about what they add.
fn approve_written(ctx: &Ctx) {
    let approved = ctx
        .load()
        .and_then(|loaded| crate::session::trust(&loaded, &ctx.dirs, &ctx.registry));
    if let Err(e) = approved {
        ui::warn(format!(
            "the new settings are not approved yet ({e:#}); `tmpl trust` does it"
        ));
    }
}

/// Writes `text` to `path` as a new file (never through a link), atomically.
fn write(path: &std::path::Path, text: &str) -> Result<()> {
    crate::atomic::write(path, text.as_bytes(), 0o644)
        .with_context(|| format!("cannot write {}", path.display()))
}
