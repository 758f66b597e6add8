//! `tmpl stats`: how long operations take on this host (FR-021), from the timings every
//! operation appends to `$XDG_STATE_HOME/tmpl/timings.jsonl`.

use crate::cli::JsonArgs;
use crate::context::Ctx;
use crate::error::ExitStatus;
use anyhow::Result;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn summarise(lines: &str) -> Vec<Value> {
    let mut groups: BTreeMap<(String, String, String), Vec<u64>> = BTreeMap::new();
    for rec in lines
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
    {
        let key = (
            rec["op"].as_str().unwrap_or("?").to_owned(),
            rec["infra_type"].as_str().unwrap_or("?").to_owned(),
            rec["outcome"].as_str().unwrap_or("?").to_owned(),
        );
        if let Some(ms) = rec["total_ms"].as_u64() {
            groups.entry(key).or_default().push(ms);
        }
    }
    groups
        .into_iter()
        .map(|((op, ty, outcome), mut v)| {
            v.sort_unstable();
            json!({"op": op, "type": ty, "outcome": outcome, "count": v.len(),
                   "median_ms": percentile(&v, 50.0), "p95_ms": percentile(&v, 95.0)})
        })
        .collect()
}

pub fn run(ctx: &Ctx, args: &JsonArgs) -> Result<ExitStatus> {
    let text = crate::timing::log::read(&ctx.dirs.state);
    let rows = summarise(&text);
    if args.json {
        crate::output::json(&rows)?;
        return Ok(ExitStatus::Success);
    }
    if rows.is_empty() {
        crate::ui::info("no timings yet: `tmpl up`, `stop` and `rm` record them");
        return Ok(ExitStatus::Success);
    }
    crate::output::line(format!(
        "{:<6} {:<10} {:<16} {:>5} {:>10} {:>10}",
        "OP", "TYPE", "OUTCOME", "COUNT", "MEDIAN", "P95"
    ));
    for r in &rows {
        let secs = |k: &str| format!("{:.2}s", r[k].as_u64().unwrap_or(0) as f64 / 1000.0);
        crate::output::line(format!(
            "{:<6} {:<10} {:<16} {:>5} {:>10} {:>10}",
            r["op"].as_str().unwrap_or(""),
            r["type"].as_str().unwrap_or(""),
            r["outcome"].as_str().unwrap_or(""),
            r["count"],
            secs("median_ms"),
            secs("p95_ms")
        ));
    }
    Ok(ExitStatus::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_and_percentiles() {
        let lines = (1..=20)
            .map(|i| format!("{{\"op\":\"up\",\"infra_type\":\"vm\",\"outcome\":\"created\",\"total_ms\":{}}}", i * 1000))
            .chain(["not json".to_string(), "{\"op\":\"stop\",\"infra_type\":\"container\",\"outcome\":\"stopped\",\"total_ms\":500}".into()])
            .collect::<Vec<_>>()
            .join("\n");
        let rows = summarise(&lines);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1]["op"], "up");
        assert_eq!(rows[1]["count"], 20);
        assert_eq!(rows[1]["median_ms"], 10_000);
        assert_eq!(rows[1]["p95_ms"], 19_000);
        assert_eq!(rows[0]["median_ms"], 500);
    }
}
