//! Containers through Podman's Docker-compatible API (bollard).

pub mod spec;
