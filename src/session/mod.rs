//! One guest's life, in order. Every command that changes a guest goes through a `Session`,
//! which sequences the steps so no command has to:
//!
//! - `up`: lock, recover, approve, pre-flight, fence, bring up, the credential broker,
//!   reach, the guest's side of the broker, record, provision (`up.rs`, `secrets.rs`);
//! - `stop` and `rm`: the same steps undone, in reverse (`teardown.rs`);
//! - `provision` on a running guest (`provision.rs`);
//! - snapshots: save, restore (which brings a guest back the way `up` does) and delete
//!   (`snapshot.rs`);
//! - the tool underneath (`tmpl vagrant --`), with the settings approved first.
//!
//! A session opened to act holds the project's lock for its whole life, and finishes what a
//! `kill -9` cut short before anything else. Each operation records its outcome and its
//! phases once, here (`tmpl stats`), whether it succeeded, failed or was interrupted.
//!
//! Also here, because they look across drivers: what the host has (`checks`), what was left
//! behind (`leftovers`) and the pre-flight checks.

pub mod checks;
pub mod leftovers;
mod open;
mod preflight;
mod provision;
mod reach;
mod secrets;
mod share;
mod snapshot;
mod teardown;
mod up;

pub use open::{review, trust, Session};
pub use preflight::{disk_space, ports_free, resources_fit};
pub use provision::Provisioning;
pub use reach::running_endpoint;
pub use snapshot::{valid_name as valid_snapshot_name, PRE_PROVISION};
pub use teardown::Removed;
pub use up::UpReport;
