//! What tmpl asks of Podman's API, as typed calls: "not found" is `None` or `false`, never a
//! status code for callers to test, and every other error names the operation and its object
//! ("cannot inspect container `x`: ..."), as testcontainers-rs wraps bollard.

use super::client::Client;
use anyhow::{Context as _, Result};
use bollard::errors::Error as BollardError;
use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ContainerSummary, ImageInspect, Network,
    NetworkConnectRequest, NetworkCreateRequest,
};
use bollard::query_parameters::{
    CommitContainerOptionsBuilder, CreateContainerOptionsBuilder, CreateImageOptionsBuilder,
    ListContainersOptionsBuilder, ListImagesOptionsBuilder, ListNetworksOptionsBuilder,
    LogsOptionsBuilder, RemoveContainerOptionsBuilder, RemoveImageOptionsBuilder,
    RenameContainerOptionsBuilder, StopContainerOptionsBuilder, TagImageOptionsBuilder,
};
use futures_util::StreamExt;
use std::collections::HashMap;

fn is_404(e: &BollardError) -> bool {
    matches!(
        e,
        BollardError::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

/// `Ok(None)` for "no such thing", the value otherwise, an error with `what` else.
fn found<T>(r: Result<T, BollardError>, what: impl FnOnce() -> String) -> Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if is_404(&e) => Ok(None),
        Err(e) => Err(anyhow::Error::new(e).context(what())),
    }
}

impl Client {
    fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    pub fn version(&self) -> Result<String> {
        let v = self
            .block_on(self.docker.version())
            .context("cannot ask Podman for its version")?;
        Ok(v.version.unwrap_or_default())
    }

    pub fn inspect_container(&self, name: &str) -> Result<Option<ContainerInspectResponse>> {
        // Podman calls a container it has stopped but not yet cleaned up `stopped`, a state
        // Docker's API (and so bollard) lacks; moments later it is `exited`
        let start = std::time::Instant::now();
        loop {
            let r = self.block_on(self.docker.inspect_container(name, None));
            match &r {
                Err(BollardError::JsonDataError { message, .. })
                    if message.contains("`stopped`")
                        && start.elapsed() < std::time::Duration::from_secs(10) =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                _ => return found(r, || format!("cannot inspect container `{name}`")),
            }
        }
    }

    pub fn inspect_image(&self, image: &str) -> Result<Option<ImageInspect>> {
        found(self.block_on(self.docker.inspect_image(image)), || {
            format!("cannot inspect image `{image}`")
        })
    }

    /// Pulls `image`, handing each new status line to `each`.
    pub fn pull(&self, image: &str, mut each: impl FnMut(&str)) -> Result<(), BollardError> {
        let opts = CreateImageOptionsBuilder::default()
            .from_image(image)
            .build();
        self.block_on(async {
            let mut stream = self.docker.create_image(Some(opts), None, None);
            let mut last = String::new();
            while let Some(item) = stream.next().await {
                let line = item?.status.unwrap_or_default();
                if !line.is_empty() && line != last {
                    each(&line);
                    last = line;
                }
            }
            Ok(())
        })
    }

    /// Creates container `name`; the error is bollard's, for callers that tell errors apart.
    pub fn create_container(
        &self,
        name: &str,
        body: ContainerCreateBody,
    ) -> Result<(), BollardError> {
        let opts = CreateContainerOptionsBuilder::default().name(name).build();
        self.block_on(self.docker.create_container(Some(opts), body))
            .map(|_| ())
    }

    pub fn start_container(&self, name: &str) -> Result<(), BollardError> {
        self.block_on(self.docker.start_container(name, None))
    }

    pub fn stop_container(&self, name: &str, timeout_secs: i32) -> Result<()> {
        let opts = StopContainerOptionsBuilder::default()
            .t(timeout_secs)
            .build();
        self.block_on(self.docker.stop_container(name, Some(opts)))
            .with_context(|| format!("cannot stop container `{name}`"))
    }

    /// Removes container `name` and its anonymous volumes, running or not; `false` when there
    /// was none.
    pub fn remove_container(&self, name: &str) -> Result<bool> {
        let opts = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        let r = self.block_on(self.docker.remove_container(name, Some(opts)));
        Ok(found(r, || format!("cannot remove container `{name}`"))?.is_some())
    }

    /// The last `lines` lines a container printed.
    pub fn logs_tail(&self, name: &str, lines: usize) -> Vec<String> {
        let opts = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .tail(&lines.to_string())
            .build();
        let chunks: Vec<String> = self.block_on(async {
            self.docker
                .logs(name, Some(opts))
                .filter_map(|c| async { c.ok().map(|c| c.to_string()) })
                .collect()
                .await
        });
        chunks.concat().lines().map(str::to_owned).collect()
    }

    /// Every container, running or not, that carries `label`.
    pub fn labelled(&self, label: &str) -> Result<Vec<ContainerSummary>> {
        let filters = HashMap::from([("label".to_owned(), vec![label.to_owned()])]);
        let opts = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        self.block_on(self.docker.list_containers(Some(opts)))
            .with_context(|| format!("cannot list the containers labelled `{label}`"))
    }

    /// Every network that carries `label`.
    pub fn labelled_networks(&self, label: &str) -> Result<Vec<Network>> {
        let filters = HashMap::from([("label".to_owned(), vec![label.to_owned()])]);
        let opts = ListNetworksOptionsBuilder::default()
            .filters(&filters)
            .build();
        self.block_on(self.docker.list_networks(Some(opts)))
            .with_context(|| format!("cannot list the networks labelled `{label}`"))
    }

    pub fn inspect_network(&self, name: &str) -> Result<Option<bollard::models::NetworkInspect>> {
        found(
            self.block_on(self.docker.inspect_network(name, None)),
            || format!("cannot inspect network `{name}`"),
        )
    }

    pub fn create_network(&self, req: NetworkCreateRequest) -> Result<(), BollardError> {
        self.block_on(self.docker.create_network(req)).map(|_| ())
    }

    pub fn connect_network(&self, name: &str, req: NetworkConnectRequest) -> Result<()> {
        self.block_on(self.docker.connect_network(name, req))
            .with_context(|| format!("cannot connect the container to network `{name}`"))
    }

    /// Removes network `name`; `false` when there was none.
    pub fn remove_network(&self, name: &str) -> Result<bool> {
        let r = self.block_on(self.docker.remove_network(name));
        Ok(found(r, || format!("cannot remove network `{name}`"))?.is_some())
    }

    /// Commits the container's filesystem as `repo:tag`, pausing it meanwhile if `pause`;
    /// `changes` are Dockerfile instructions, one per line (`LABEL k=v`).
    pub fn commit(
        &self,
        container: &str,
        repo: &str,
        tag: &str,
        changes: &str,
        pause: bool,
    ) -> Result<()> {
        let opts = CommitContainerOptionsBuilder::default()
            .container(container)
            .repo(repo)
            .tag(tag)
            .pause(pause)
            .changes(changes)
            .build();
        self.block_on(
            self.docker
                .commit_container(opts, bollard::models::ContainerConfig::default()),
        )
        .map(|_| ())
        .with_context(|| format!("cannot commit container `{container}` as `{repo}:{tag}`"))
    }

    pub fn rename_container(&self, name: &str, to: &str) -> Result<()> {
        let opts = RenameContainerOptionsBuilder::default().name(to).build();
        self.block_on(self.docker.rename_container(name, opts))
            .with_context(|| format!("cannot rename container `{name}` to `{to}`"))
    }

    pub fn tag_image(&self, image: &str, repo: &str, tag: &str) -> Result<()> {
        let opts = TagImageOptionsBuilder::default()
            .repo(repo)
            .tag(tag)
            .build();
        self.block_on(self.docker.tag_image(image, Some(opts)))
            .with_context(|| format!("cannot tag image `{image}` as `{repo}:{tag}`"))
    }

    /// Removes an image reference (the image itself once no tag is left); `false` when
    /// there was none.
    pub fn remove_image(&self, image: &str, force: bool) -> Result<bool> {
        let opts = RemoveImageOptionsBuilder::default().force(force).build();
        let r = self.block_on(self.docker.remove_image(image, Some(opts), None));
        Ok(found(r, || format!("cannot remove image `{image}`"))?.is_some())
    }

    /// The images carrying `label` (`key` or `key=value`).
    pub fn labelled_images(&self, label: &str) -> Result<Vec<bollard::models::ImageSummary>> {
        let opts = ListImagesOptionsBuilder::default()
            .filters(&HashMap::from([("label", vec![label])]))
            .build();
        self.block_on(self.docker.list_images(Some(opts)))
            .with_context(|| format!("cannot list images labelled `{label}`"))
    }
}
