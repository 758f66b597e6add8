//! Making `IMAGE` usable by vagrant-libvirt without Vagrant Cloud: a `.box` file is added
//! once under a stable name; a cloud image (file or URL) is wrapped as a box once and booted
//! with a per-project cloud-init NoCloud seed that creates the login user with the project's
//! key, sets the hostname and grows the root filesystem.

use super::login::CLOUD_USER;
use super::plan::{BoxSource, VmPlan};
use crate::error::{ExitStatus, Failure};
use crate::process::Cmd;
use crate::ui;
use anyhow::{Context as _, Result};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Vagrant's own folder: `VAGRANT_HOME`, else `~/.vagrant.d`.
pub fn vagrant_home() -> PathBuf {
    match std::env::var_os("VAGRANT_HOME").filter(|v| !v.is_empty()) {
        Some(h) => PathBuf::from(h),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".vagrant.d"),
    }
}

/// Vagrant's box store, where `vagrant box add` puts boxes.
pub fn boxes_dir() -> PathBuf {
    vagrant_home().join("boxes")
}

/// Is a libvirt box of this name added? Read from Vagrant's store, not `vagrant box list`,
/// which costs a second.
pub fn box_present(name: &str) -> bool {
    let dir = boxes_dir().join(name.replace('/', "-VAGRANTSLASH-"));
    std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .any(|v| v.path().join("libvirt").join("metadata.json").exists())
}

pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

fn check_sha(path: &Path, want: Option<&str>) -> Result<()> {
    let Some(want) = want else { return Ok(()) };
    let got = sha256_file(path)?;
    if got != want {
        return Err(Failure::new(
            ExitStatus::Config,
            format!("`{}` does not match IMAGE_SHA256", path.display()),
        )
        .detail(format!("expected {want}"))
        .detail(format!("found    {got}"))
        .hint("fix IMAGE_SHA256 in .env, or fetch the image again")
        .into());
    }
    Ok(())
}

fn missing(path: &Path) -> anyhow::Error {
    Failure::config(format!("IMAGE `{}` does not exist", path.display()))
        .hint("fix IMAGE in .env (paths are relative to the project folder; `~/` is your home)")
        .into()
}

/// Makes `plan.context.box` exist in Vagrant.
pub fn ensure_box(
    plan: &VmPlan,
    sha: Option<&str>,
    cache_root: &Path,
    env: &[(String, String)],
) -> Result<()> {
    let name = &plan.context.r#box;
    if box_present(name) {
        return Ok(());
    }
    match &plan.box_source {
        BoxSource::Named => Err(Failure::config(format!("there is no Vagrant box named `{name}` on this host"))
            .hint("add it (`vagrant box add NAME FILE.box`), or set IMAGE to a .box file or a cloud image (.qcow2)")
            .into()),
        BoxSource::BoxFile(p) => {
            if !p.is_file() {
                return Err(missing(p));
            }
            check_sha(p, sha)?;
            add_box(name, p, env)
        }
        BoxSource::CloudFile(p) => {
            if !p.is_file() {
                return Err(missing(p));
            }
            check_sha(p, sha)?;
            wrap_cloud_image(name, p, cache_root, env)
        }
        BoxSource::CloudUrl(url) => {
            let file = download(url, cache_root)?;
            check_sha(&file, sha)?;
            wrap_cloud_image(name, &file, cache_root, env)
        }
    }
}

fn add_box(name: &str, file: &Path, env: &[(String, String)]) -> Result<()> {
    ui::info(format!("adding box {name} from {}", file.display()));
    let mut cmd = Cmd::new("vagrant")
        .args(["box", "add", "--force", "--name", name])
        .arg(file);
    for (k, v) in env {
        cmd = cmd.env(k, v);
    }
    cmd.stream()
}

/// A cloud image's virtual size in whole GiB (rounded up), from `qemu-img info`.
fn virtual_size_gib(image: &Path) -> Result<u64> {
    let out = Cmd::new("qemu-img")
        .args(["info", "--output=json"])
        .arg(image)
        .read()?;
    #[derive(serde::Deserialize)]
    struct Info {
        #[serde(rename = "virtual-size")]
        virtual_size: u64,
    }
    let info: Info = serde_json::from_str(&out).context("qemu-img reported no virtual size")?;
    Ok(info.virtual_size.div_ceil(1 << 30))
}

fn wrap_cloud_image(
    name: &str,
    image: &Path,
    cache_root: &Path,
    env: &[(String, String)],
) -> Result<()> {
    let gib = virtual_size_gib(image)?;
    let work = tempfile::Builder::new()
        .prefix("box-")
        .tempdir_in(ensure_dir(cache_root)?)?;
    std::fs::write(
        work.path().join("metadata.json"),
        serde_json::json!({"provider": "libvirt", "format": "qcow2", "virtual_size": gib})
            .to_string(),
    )?;
    // a symlink, dereferenced by tar: the image is read once, never copied twice
    std::os::unix::fs::symlink(image.canonicalize()?, work.path().join("box.img"))?;
    let boxfile = work.path().join("image.box");
    ui::info(format!("wrapping {} as box {name}", image.display()));
    Cmd::new("tar")
        .arg("-chf")
        .arg(&boxfile)
        .arg("-C")
        .arg(work.path())
        .args(["metadata.json", "box.img"])
        .read()?;
    add_box(name, &boxfile, env)
}

fn ensure_dir(p: &Path) -> Result<&Path> {
    std::fs::create_dir_all(p).with_context(|| format!("cannot create {}", p.display()))?;
    Ok(p)
}

/// Downloads `url` once into the shared image cache, with curl's progress bar on a terminal.
fn download(url: &str, cache_root: &Path) -> Result<PathBuf> {
    let dir = cache_root.join("images");
    ensure_dir(&dir)?;
    let hash: String = Sha256::digest(url.as_bytes())
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect();
    let file_name = url
        .rsplit('/')
        .next()
        .unwrap_or("image.qcow2")
        .split('?')
        .next()
        .unwrap_or("image.qcow2");
    let target = dir.join(format!("{hash}-{file_name}"));
    if target.is_file() {
        return Ok(target);
    }
    let partial = target.with_extension("part");
    let shown = crate::text::redact_url(url);
    ui::info(format!("downloading {shown}"));
    let progress = if console::Term::stderr().is_term() {
        "--progress-bar"
    } else {
        "--silent"
    };
    // credentials in the URL go to curl in a private file, never on its command line (which
    // every user of the host can read in `ps`)
    let (bare, user) = crate::text::split_credentials(url);
    let secrets = tempfile::tempdir()?;
    let mut curl = Cmd::new("curl")
        .args(["--fail", "--location", "--show-error", progress, "--output"])
        .arg(&partial);
    if let Some(user) = user {
        let cfg = secrets.path().join("curl.cfg");
        let q = |v: &str| v.replace('\\', "\\\\").replace('"', "\\\"");
        crate::ssh::write_private(&cfg, format!("user = \"{}\"\n", q(&user)).as_bytes())?;
        curl = curl.arg("--config").arg(&cfg);
    }
    curl.arg(&bare).interactive().and_then(|code| {
        if code == 0 {
            Ok(())
        } else {
            Err(Failure::new(
                ExitStatus::Failure,
                format!("cannot download {shown} (curl exit {code})"),
            )
            .hint(
                "check the URL and the network, or download it yourself and set IMAGE to the file",
            )
            .into())
        }
    })?;
    std::fs::rename(&partial, &target)?;
    Ok(target)
}

fn user_data(plan: &VmPlan, public_key: &str, host_key: (&str, &str)) -> String {
    super::cloud_config::user_data(&super::cloud_config::Guest {
        hostname: &plan.context.hostname,
        user: CLOUD_USER,
        ids: plan.login_ids,
        public_key,
        host_key,
    })
}

/// The NoCloud seed for a cloud image (`user_data`), built in a private temporary folder and
/// handed to libvirt as the pool volume `volume`, where its QEMU can read it.
pub fn write_seed(
    plan: &VmPlan,
    public_key: &str,
    host_key: (&str, &str),
    volume: &str,
) -> Result<()> {
    let user_data = user_data(plan, public_key, host_key);
    let meta_data = super::cloud_config::meta_data(&plan.domain, &plan.context.hostname);
    let work = tempfile::tempdir()?;
    crate::ssh::write_private(&work.path().join("user-data"), user_data.as_bytes())?;
    crate::ssh::write_private(&work.path().join("meta-data"), meta_data.as_bytes())?;
    let iso = work.path().join("seed.iso");
    Cmd::new("xorriso")
        .args(["-as", "genisoimage", "-output"])
        .arg(&iso)
        .args(["-volid", "CIDATA", "-joliet", "-rock"])
        .arg(work.path().join("user-data"))
        .arg(work.path().join("meta-data"))
        .read()?;
    super::virsh::vol_upload(volume, &iso)?;
    Ok(())
}
