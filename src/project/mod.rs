//! Project identity: which folder is the project, what it is called, and where tmpl keeps
//! its files for it.
//!
//! The project is the nearest folder, from the current one upward, whose `.env` sets a tmpl
//! key, so `tmpl ssh` works from a subfolder. The search stops below `$HOME` (a `~/.env` would
//! otherwise turn every folder of the user into one project) and at the filesystem root.
//!
//! Names on the host (container, libvirt domain, Vagrant machine) come from a slug: the
//! project's name plus 8 hex digits of a hash of its canonical path, so two checkouts called
//! `app` never collide and a moved folder is a new project. libvirt's names are one namespace
//! for the whole host, so an ordinary person's hash covers their uid too: two people with the
//! same folder path (a shared checkout, `/srv/app`) get two VMs. Root's hash is the path
//! alone, as before people ran tmpl, so the guests root already has keep their names.

mod folder;
mod identity;
pub mod list;
mod load;

pub use folder::{discover, has_tmpl_settings, NotFound, Project};
pub use identity::{identity, identity_of, Dirs, Identity};
pub use load::{AllAsked, Finder, Granted, Loaded};
