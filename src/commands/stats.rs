//! `tmpl stats`: how long operations take on this host (FR-021), from the timings every
//! operation appends to `$XDG_STATE_HOME/tmpl/timings.jsonl`.

use crate::cli::JsonArgs;
use crate::context::Ctx;
use crate::error::ExitStatus;
use crate::output;
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// What `stats` reads of a line of the log; a line without its time is left out.
#[derive(Deserialize)]
struct Record {
    op: Option<String>,
    infra_type: Option<String>,
    outcome: Option<String>,
    total_ms: Option<u64>,
}

/// One kind of operation: the table's row and, as it is, an element of `--json`.
#[derive(Debug, Serialize)]
pub struct Row {
    pub op: String,
    #[serde(rename = "type")]
    pub infra_type: String,
    pub outcome: String,
    pub count: usize,
    pub median_ms: u64,
    pub p95_ms: u64,
}

impl Row {
    fn cells(&self) -> [String; 6] {
        let secs = |ms: u64| format!("{:.2}s", ms as f64 / 1000.0);
        [
            self.op.clone(),
            self.infra_type.clone(),
            self.outcome.clone(),
            self.count.to_string(),
            secs(self.median_ms),
            secs(self.p95_ms),
        ]
    }
}

pub fn summarise(lines: &str) -> Vec<Row> {
    let mut groups: BTreeMap<(String, String, String), Vec<u64>> = BTreeMap::new();
    let unknown = |v: Option<String>| v.unwrap_or_else(|| "?".into());
    for rec in lines
        .lines()
        .filter_map(|l| serde_json::from_str::<Record>(l).ok())
    {
        if let Some(ms) = rec.total_ms {
            let key = (
                unknown(rec.op),
                unknown(rec.infra_type),
                unknown(rec.outcome),
            );
            groups.entry(key).or_default().push(ms);
        }
    }
    groups
        .into_iter()
        .map(|((op, infra_type, outcome), mut v)| {
            v.sort_unstable();
            Row {
                op,
                infra_type,
                outcome,
                count: v.len(),
                median_ms: percentile(&v, 50.0),
                p95_ms: percentile(&v, 95.0),
            }
        })
        .collect()
}

pub fn run(ctx: &Ctx, args: &JsonArgs) -> Result<ExitStatus> {
    let text = crate::timing::log::read(&ctx.dirs.state);
    let rows = summarise(&text);
    if args.json {
        output::json(&rows)?;
        return Ok(ExitStatus::Success);
    }
    if rows.is_empty() {
        crate::ui::info("no timings yet: `tmpl up`, `stop` and `rm` record them");
        return Ok(ExitStatus::Success);
    }
    let mut table =
        output::Table::new(&["OP", "TYPE", "OUTCOME", "COUNT", "MEDIAN", "P95"]).right(&[3, 4, 5]);
    for r in &rows {
        table.row(r.cells());
    }
    table.print();
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
        assert_eq!(rows[1].op, "up");
        assert_eq!(rows[1].count, 20);
        assert_eq!(rows[1].median_ms, 10_000);
        assert_eq!(rows[1].p95_ms, 19_000);
        assert_eq!(rows[0].median_ms, 500);
        // the JSON keeps its field names
        let json = serde_json::to_value(&rows[0]).unwrap();
        assert_eq!(json["type"], "container");
        assert_eq!(json["p95_ms"], 500);
    }
}
