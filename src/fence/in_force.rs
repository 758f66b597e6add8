//! What fence is in force for a guest, as `up` confirms it where a keeper holds it and as
//! `status` says it.

use super::lan;
use super::place::{Holder, HOST};
use super::tables::{may_enforce, table_exists, table_name};

/// What the fence closed at the last `up`, for `status`.
pub(super) const CLOSED_FILE: &str = "fence-closed.json";
use crate::config::Egress;
use crate::error::{ExitStatus, Failure};
use crate::project::Loaded;
use anyhow::Result;

/// Where a keeper holds the fence: once the guest runs, that what it holds is the project's
/// policy, the guest's services (`services`) opened. A guest whose fence is not what `.env`
/// says is an error, with the way out.
pub fn confirm(loaded: &Loaded, holder: Holder, services: &[u16]) -> Result<()> {
    let Some(k) = holder.keeper() else {
        return Ok(());
    };
    let c = &loaded.config;
    if c.egress == Egress::Open && c.egress_allow.is_empty() {
        return Ok(());
    }
    let want: Vec<String> = c.egress_allow.iter().map(|a| a.to_string()).collect();
    match k.published(&loaded.id.slug) {
        Some(p) if p.egress == c.egress && p.allow == want && p.services == services => Ok(()),
        // the policy the person asked for, without the opening: a keeper older than this tmpl
        Some(p) if p.egress == c.egress && p.allow == want => Err(Failure::new(
            ExitStatus::Failure,
            format!(
                "the guest's fence does not open its services on the gateway (port {}), so \
                 the credential broker is out of its reach",
                services
                    .iter()
                    .map(u16::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
        .detail(format!("--> held {}", holder.name()))
        .hint(
            "a running VM's fence changes when its network starts again: `tmpl stop`, then \
             `tmpl up`. If it still says so, the host's fence hook is older than this tmpl: as \
             root, `make setup` (or `scripts/fence-hook.sh $(command -v tmpl)`) installs this one",
        )
        .into()),
        Some(p) => Err(Failure::new(
            ExitStatus::Failure,
            format!(
                "the guest's fence in force is `EGRESS={}` with {} allowed, not what .env says",
                p.egress,
                p.allow.len()
            ),
        )
        .hint("a running VM's fence changes when its network starts again: `tmpl stop`, then `tmpl up`")
        .into()),
        None => Err(Failure::new(
            ExitStatus::Failure,
            "the guest runs, but no fence is published for it",
        )
        .hint("`tmpl doctor` checks the hook that holds it; `tmpl stop`, then `tmpl up` once it is fixed")
        .into()),
    }
}

/// What the fence closed beyond the fixed ranges, as last written (or published).
pub fn closed_in_force(loaded: &Loaded, holder: Holder) -> Vec<String> {
    let closed: Vec<lan::Closed> = match holder.keeper() {
        Some(k) => k
            .published(&loaded.id.slug)
            .map(|p| p.closed)
            .unwrap_or_default(),
        None => std::fs::read(loaded.id.state_dir.join(CLOSED_FILE))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default(),
    };
    closed.iter().map(|c| c.to_string()).collect()
}

/// What `status` says of the fence: the policy, and whether the host holds it now.
pub fn describe(loaded: &Loaded, holder: Holder) -> String {
    let c = &loaded.config;
    let mut s = c.egress.to_string();
    if !c.egress_allow.is_empty() {
        let allow: Vec<String> = c.egress_allow.iter().map(|a| a.to_string()).collect();
        s.push_str(&format!(" + {}", allow.join(",")));
    }
    if c.egress == Egress::Open && c.egress_allow.is_empty() {
        return format!("{s} (no fence)");
    }
    if let Err((why, _)) = may_enforce(holder) {
        return format!("{s} (cannot be enforced: {why})");
    }
    if let Some(k) = holder.keeper() {
        return match k.published(&loaded.id.slug) {
            Some(p) => format!(
                "{s} (in force: nft table inet {} {}{})",
                p.table,
                holder.name(),
                if p.resolver {
                    ""
                } else {
                    "; its resolver is not running"
                }
            ),
            None => format!("{s} (not in force: its network is not running)"),
        };
    }
    if table_exists(holder, &table_name(&loaded.id.slug)) {
        let at = if holder == HOST {
            String::new()
        } else {
            format!(" {}", holder.name())
        };
        format!(
            "{s} (in force: nft table inet {}{at})",
            table_name(&loaded.id.slug)
        )
    } else {
        format!("{s} (not in force: `tmpl up` sets it)")
    }
}
