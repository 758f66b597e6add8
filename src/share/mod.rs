//! The file server between the guest and the project folder (`tmpl __share CONFIG.json`).
//!
//! The guest runs an agent as root that tmpl does not trust, and the project folder it writes
//! is read later by the person's own tools on the host: git above all. So the folder reaches
//! the guest through this server, never directly: a FUSE mount (containers bind it, VMs get it
//! through libvirt's virtiofsd) whose every request passes a policy held here, on the host,
//! where root in the guest cannot lift it.
//!
//! - Whatever the guest makes belongs to the user running the server; chown is accepted and
//!   not applied; no setuid or setgid bit, no device, no FIFO, no whiteout; only `user.*`
//!   extended attributes.
//! - `.git` at the top is not the project's repository but the guest's own (`gitdir`, kept in
//!   tmpl's state), of which the guest writes only what git needs to work (`gitdir`). The
//!   project's `.git` is out of reach.
//! - Elsewhere no `.git` or `HEAD` may be made, and existing repositories (a `.git`, a folder
//!   holding `HEAD`) are read-only and stay where they are; so are PROTECT paths (`protect`).
//!   Whatever repository the host's git finds, the guest did not write its config or hooks.
//! - SYNC=ro (`readonly`): every change is refused, in the repository too.
//!
//! Pieces: `daemon` (its life, as the session starts and stops it), `repo` (the guest's
//! repository, seeded from the project's and fetched back), `route` (two PassthroughFs behind one mount), `marks` (what is known of each
//! inode), `policy` (the decisions), `fs` and `requests` (the FUSE file system), `listing` (the
//! top folder's entries), `mount` and `serve` (the daemon). Only the /dev/fuse transport exists; a
//! vhost-user one would serve the same `fs::Share` (note that a guest kernel speaking FUSE
//! directly may name any inode number, which the host's kernel never does).

pub mod config;
pub mod daemon;
mod fs;
mod gitdir;
mod listing;
mod marks;
mod mount;
mod names;
mod policy;
mod protect;
pub mod repo;
mod requests;
mod route;
mod serve;
#[cfg(test)]
mod tests;

pub use config::Config;
pub use mount::FSNAME;
pub use serve::run;
