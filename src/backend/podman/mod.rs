//! Containers through Podman's Docker-compatible API (bollard).
//!
//! The container is `tmpl-<slug>`, labelled `tmpl.project=<slug>`, `tmpl.dir=<folder>` and
//! `tmpl.state=<state folder>`, so tmpl finds it without a state file and never touches a
//! container that is not the project's (a same-named container without the label is an
//! error, not adopted).

mod api;
pub mod client;
mod container;
mod driver;
pub mod limits;
pub mod netns;
pub mod network;
mod person;
pub mod runtime;
mod snapshot;
pub mod spec;

pub use container::{binds, preview, Podman, NET};
pub use driver::PodmanDriver;
