//! The project folder, as the guest sees it: served by a file server of tmpl's (`daemon`),
//! never shared directly, so that what the guest writes into it can never make the host run
//! code or carry a privilege out (see the README, "The project folder in the guest"). The
//! guest's `.git` is a repository of its own (`repo`).

pub mod config;
pub mod daemon;
pub mod repo;
