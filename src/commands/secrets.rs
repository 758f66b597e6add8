//! `tmpl secrets log`: what the credential broker did with the guest's requests, from its
//! log in the project's state (never a value: see `broker::record`).

use crate::broker::record::{self, Action};
use crate::cli::{SecretsAction, SecretsArgs};
use crate::context::Ctx;
use crate::error::ExitStatus;
use crate::output;
use anyhow::Result;

pub fn run(ctx: &Ctx, args: &SecretsArgs) -> Result<ExitStatus> {
    let SecretsAction::Log(json) = &args.action;
    let loaded = ctx.load()?;
    let entries = record::read(&crate::broker::dir(&loaded.id.state_dir));
    if json.json {
        output::json(&entries)?;
        return Ok(ExitStatus::Success);
    }
    if entries.is_empty() {
        crate::ui::info(if loaded.config.secrets.is_empty() {
            "no SECRETS in .env, and nothing logged"
        } else {
            "nothing logged yet: the broker logs each request to a host of SECRETS, and each it refuses"
        });
        return Ok(ExitStatus::Success);
    }
    let mut table = output::Table::new(&["time", "action", "names", "host", "request", "status"]);
    for e in &entries {
        let action = match e.action {
            Action::Sent if e.names.is_empty() => "sent (no secret)",
            Action::Sent => "sent with value",
            Action::Withheld => "placeholder kept",
            Action::Refused => "refused (fence)",
            Action::Failed => "not sent (server)",
        };
        table.row([
            e.time.to_string(),
            action.to_owned(),
            if e.names.is_empty() {
                "-".to_owned()
            } else {
                e.names.join(",")
            },
            e.host.clone(),
            format!("{} {}", e.method, e.path).trim().to_owned(),
            e.status.map_or("-".to_owned(), |s| s.to_string()),
        ]);
    }
    table.print();
    Ok(ExitStatus::Success)
}
