//! A container's snapshots: its filesystem committed as an image of tmpl's, tagged
//! `localhost/tmpl-snapshot/<slug>:<name>` and labelled with the project and its state folder
//! (for `gc`). Committing pauses the container for that moment; it keeps running.
//!
//! A restore recreates the container from the snapshot, with the settings as they are now
//! (ports, mounts, limits, network: the spec `up` makes) and the SSH host key it had, which is
//! in its filesystem. The image it runs from is also tagged `current`, so that deleting the
//! named snapshot later never pulls the image out from under the container.
//!
//! The old container is renamed aside before the new one is made and removed only once the
//! new one runs. A restore cut short (`kill -9`) leaves a journal; the next command finishes
//! it when the new container exists, or puts the old one back when it does not, and says so.

use super::container::Podman;
use crate::driver::{Snapshot, Snapshots};
use crate::error::{ExitStatus, Failure};
use anyhow::Result;

const CURRENT: &str = "current";

impl Podman {
    pub(super) fn snapshot_repo(&self) -> String {
        format!("localhost/tmpl-snapshot/{}", self.loaded.id.slug)
    }
    fn aside(&self) -> String {
        format!("{}-aside", self.name)
    }
    /// The snapshot a container was made from by a restore that never started it (cut short
    /// between the two): all there is of that guest is the snapshot, so `up` makes the
    /// container again from it, not from `IMAGE`. `None` when the image is gone (`rm`).
    pub(super) fn restored_from(
        &self,
        c: &bollard::models::ContainerInspectResponse,
    ) -> Result<Option<String>> {
        let current = format!("{}:{CURRENT}", self.snapshot_repo());
        let made_from = c.config.as_ref().and_then(|c| c.image.as_deref());
        if made_from != Some(current.as_str()) {
            return Ok(None);
        }
        Ok(self.client.inspect_image(&current)?.map(|_| current))
    }
    fn journal(&self) -> std::path::PathBuf {
        self.loaded.id.state_dir.join("snapshot-restore")
    }
    /// Every snapshot of the project, for `rm` (after its container is gone).
    pub(super) fn remove_snapshots(&self) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        let mut names: Vec<String> = Snapshots::list(self)?.into_iter().map(|s| s.name).collect();
        names.push(CURRENT.into());
        for n in names {
            let image = format!("{}:{n}", self.snapshot_repo());
            if self.client.remove_image(&image, true)? && n != CURRENT {
                removed.push(format!("snapshot {n}"));
            }
        }
        let _ = self.client.remove_container(&self.aside());
        Ok(removed)
    }
}

impl Snapshots for Podman {
    fn list(&self) -> Result<Vec<Snapshot>> {
        let repo = self.snapshot_repo();
        let label = format!("{}={}", super::spec::LABEL_PROJECT, self.loaded.id.slug);
        let mut out = Vec::new();
        for image in self.client.labelled_images(&label)? {
            for tag in &image.repo_tags {
                let Some(name) = tag.strip_prefix(&format!("{repo}:")) else {
                    continue;
                };
                if name == CURRENT {
                    continue;
                }
                out.push(Snapshot {
                    name: name.to_owned(),
                    created: jiff::Timestamp::from_second(image.created)
                        .unwrap_or(jiff::Timestamp::UNIX_EPOCH),
                    size_bytes: u64::try_from(image.size).ok(),
                });
            }
        }
        out.sort_by(|a, b| (&a.created, &a.name).cmp(&(&b.created, &b.name)));
        Ok(out)
    }
    fn save(&self, name: &str, replace: bool) -> Result<()> {
        if self.inspect()?.is_none() {
            return Err(crate::driver::no_guest(&self.loaded.id.name));
        }
        let repo = self.snapshot_repo();
        if !replace && Snapshots::list(self)?.iter().any(|s| s.name == name) {
            return Err(
                Failure::new(ExitStatus::Failure, format!("snapshot `{name}` exists"))
                    .hint(format!(
                        "`tmpl snapshot delete {name}` first, or choose another name"
                    ))
                    .into(),
            );
        }
        let changes = [
            format!(
                "LABEL {}={}",
                super::spec::LABEL_PROJECT,
                self.loaded.id.slug
            ),
            format!(
                "LABEL {}={}",
                super::spec::LABEL_STATE,
                self.loaded.id.state_dir.display()
            ),
        ]
        .join("\n");
        let pause = can_pause();
        if !pause {
            crate::ui::warn(
                "the container keeps running while its snapshot is taken: rootless Podman cannot pause it on a cgroup v1 host, so a file written meanwhile may be caught half-written",
            );
        }
        self.client.commit(&self.name, &repo, name, &changes, pause)
    }
    fn restore(&self, name: &str) -> Result<()> {
        let image = format!("{}:{name}", self.snapshot_repo());
        let old = self.inspect()?;
        let journal = Journal {
            snapshot: name.to_owned(),
            old_container: old.as_ref().and_then(|c| c.id.clone()),
        };
        crate::atomic::write(&self.journal(), &serde_json::to_vec(&journal)?, 0o600)?;
        if let Some(c) = old {
            if Self::state_of(&c) == crate::driver::State::Running {
                self.client.stop_container(&self.name, 10)?;
            }
            let _ = self.client.remove_container(&self.aside());
            self.client.rename_container(&self.name, &self.aside())?;
        }
        self.client
            .tag_image(&image, &self.snapshot_repo(), CURRENT)?;
        let current = format!("{}:{CURRENT}", self.snapshot_repo());
        self.create_from(Some(&current))?;
        self.start()?;
        self.client.remove_container(&self.aside())?;
        let _ = std::fs::remove_file(self.journal());
        Ok(())
    }
    fn delete(&self, name: &str) -> Result<()> {
        self.client
            .remove_image(&format!("{}:{name}", self.snapshot_repo()), false)?;
        Ok(())
    }
    fn recover(&self) -> Result<Option<String>> {
        let Ok(text) = std::fs::read_to_string(self.journal()) else {
            return Ok(None);
        };
        let journal = Journal::read(&text);
        let name = &journal.snapshot;
        let current = self.inspect()?;
        let aside = self.client.inspect_container(&self.aside())?;
        let untouched = journal.old_container.is_some()
            && current
                .as_ref()
                .is_some_and(|c| c.id == journal.old_container);
        let undone = format!("the interrupted restore of snapshot `{name}` was undone: the container is as it was before");
        let said = match (current, aside) {
            // cut short before the old container was set aside: it is still the one there
            (Some(_), _) if untouched => {
                let _ = self.client.remove_container(&self.aside());
                undone
            }
            (Some(_), _) => {
                let _ = self.client.remove_container(&self.aside());
                format!("the interrupted restore of snapshot `{name}` had made the new container: it is kept")
            }
            (None, Some(_)) => {
                self.client.rename_container(&self.aside(), &self.name)?;
                undone
            }
            (None, None) => {
                format!("the interrupted restore of snapshot `{name}` left no container")
            }
        };
        let _ = std::fs::remove_file(self.journal());
        Ok(Some(said))
    }
}

/// What a restore under way has done, for the next command to finish or undo it.
#[derive(serde::Serialize, serde::Deserialize)]
struct Journal {
    snapshot: String,
    /// The container the restore replaces: while it is still under the project's name, the
    /// restore had not begun to change anything.
    old_container: Option<String>,
}

impl Journal {
    /// A journal of an older tmpl holds the snapshot's name alone.
    fn read(text: &str) -> Journal {
        serde_json::from_str(text).unwrap_or_else(|_| Journal {
            snapshot: text.trim().to_owned(),
            old_container: None,
        })
    }
}

/// Pausing needs the freezer, which rootless Podman has only on cgroup v2: root's Podman
/// pauses on either.
fn can_pause() -> bool {
    crate::person::is_root()
        || std::fs::read_to_string("/proc/self/mountinfo").is_ok_and(|m| {
            m.lines()
                .any(|l| l.contains(" /sys/fs/cgroup ") && l.contains(" cgroup2 "))
        })
}

#[cfg(test)]
mod tests {
    use super::Journal;

    #[test]
    fn a_journal_names_the_container_it_replaces_or_only_the_snapshot() {
        let j = Journal::read(r#"{"snapshot":"one","old_container":"abc"}"#);
        assert_eq!(
            (j.snapshot.as_str(), j.old_container.as_deref()),
            ("one", Some("abc"))
        );
        let older = Journal::read("one\n");
        assert_eq!(
            (older.snapshot.as_str(), older.old_container),
            ("one", None)
        );
    }
}
