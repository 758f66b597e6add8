//! How long each operation and its phases took (requirement FR-021): every phase shows its
//! progress line and is timed; the operation ends with a one-line summary for the person and
//! a record in the log (`log`). No value from `.env` is recorded, only names and durations.

pub mod log;

use std::path::Path;
use std::time::{Duration, Instant};

pub struct Phases {
    op: String,
    start: Instant,
    phases: Vec<(String, Duration)>,
    /// The phase running now, so a failure or an interrupt can say where it stopped.
    current: Option<String>,
}

impl Phases {
    pub fn new(op: &str) -> Phases {
        Phases {
            op: op.to_owned(),
            start: Instant::now(),
            phases: Vec::new(),
            current: None,
        }
    }

    /// Runs `f` as phase `name`, showing a progress line and timing it. An interrupt that
    /// arrived meanwhile ends the operation here, in this phase, even when `f` finished: the
    /// record then says where it stopped.
    pub fn run<T, E: Into<anyhow::Error>>(
        &mut self,
        name: &str,
        label: &str,
        f: impl FnOnce() -> Result<T, E>,
    ) -> anyhow::Result<T> {
        let step = crate::ui::Step::start(label);
        self.current = Some(name.to_owned());
        let out = f().map_err(Into::into);
        if crate::interrupt::interrupted() {
            return Err(crate::interrupt::failure(label).into());
        }
        self.current = None;
        self.phases.push((name.to_owned(), step.done()));
        out
    }

    /// The phase that was running when the operation stopped, or the last one that ran.
    pub fn stopped_in(&self) -> String {
        self.current
            .clone()
            .or_else(|| self.phases.last().map(|p| p.0.clone()))
            .unwrap_or_else(|| "start".into())
    }

    pub fn total(&self) -> Duration {
        self.start.elapsed()
    }

    /// `up took 58.2s (create 51.0s, ssh 5.1s, provision 2.1s)`.
    pub fn summary(&self) -> String {
        let parts: Vec<String> = self
            .phases
            .iter()
            .map(|(n, d)| format!("{n} {}", secs(*d)))
            .collect();
        let total = secs(self.total());
        if parts.is_empty() {
            format!("{} took {total}", self.op)
        } else {
            format!("{} took {total} ({})", self.op, parts.join(", "))
        }
    }

    /// Records where a failed or interrupted operation stopped (for `tmpl stats` and whoever
    /// runs the next command) and hands the error back.
    pub fn record_error(
        &self,
        state_root: &Path,
        project: &str,
        infra_type: &str,
        err: anyhow::Error,
    ) -> anyhow::Error {
        let how = if crate::interrupt::interrupted() {
            "interrupted"
        } else {
            "failed"
        };
        let outcome = format!("{how} in {}", self.stopped_in());
        self.record(state_root, project, infra_type, &outcome);
        err
    }

    /// Appends the operation to the log (see `log`).
    pub fn record(&self, state_root: &Path, project: &str, infra_type: &str, outcome: &str) {
        let phases = self
            .phases
            .iter()
            .map(|(n, d)| (n.as_str(), *d))
            .collect::<Vec<_>>();
        log::append(
            state_root,
            &self.op,
            project,
            infra_type,
            outcome,
            self.total(),
            &phases,
        );
    }
}

/// `Duration` as `12.3s`, for summaries.
pub fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}
