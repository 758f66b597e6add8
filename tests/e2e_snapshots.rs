//! Snapshots on real Podman and real libvirt: a guest goes back to what it was, with its SSH
//! host key, ports and mounts, while the project folder stays as it is now.

mod common;
use common::*;
use std::time::Instant;

fn ct_env(extra: &str) -> String {
    format!("INFRA_TYPE=container\nMEMORY=256\nCPUS=1\nDISK=2\nIMAGE={CONTAINER_IMAGE}\n{extra}")
}

fn names(p: &Project) -> Vec<String> {
    let v: serde_json::Value =
        serde_json::from_str(&p.ok(&["snapshot", "list", "--json"])).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect()
}

fn timed(p: &Project, args: &[&str]) -> f64 {
    let t = Instant::now();
    p.ok(args);
    let s = t.elapsed().as_secs_f64();
    eprintln!("tmpl {}: {s:.2}s", args.join(" "));
    s
}

/// Runs tmpl and kills it (`kill -9`) as soon as `ready` says so.
fn killed_when(p: &Project, args: &[&str], mut ready: impl FnMut() -> bool) {
    use std::os::unix::process::CommandExt;
    let mut child = p
        .cmd(args)
        .process_group(0)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // polled often: the moment lasts a fraction of a second
    let start = Instant::now();
    let seen = loop {
        if ready() {
            break true;
        }
        if child.try_wait().unwrap().is_some() || start.elapsed().as_secs() > 120 {
            break false;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    // SAFETY: signalling the process group this test created
    unsafe {
        libc::kill(-(child.id() as i32), libc::SIGKILL);
    }
    let code = child.wait().unwrap().code();
    assert!(
        seen,
        "tmpl {args:?} ended ({code:?}) before the moment came"
    );
    assert_eq!(code, None, "killed");
}

/// Whether Podman has made the project's container since this call. The moment lasts as
/// long as its start (about 150 ms), and `podman ps` can wait that long on the container's
/// lock, so Podman's own record of events is read instead: written as each one happens, read
/// without a lock. Where Podman logs events to journald, `podman ps` is asked for both
/// containers.
fn created_after_now(slug: &str) -> impl FnMut() -> bool {
    let log = std::path::PathBuf::from("/run/libpod/events/events.log");
    let from = std::fs::metadata(&log).map(|m| m.len()).ok();
    let (slug, name) = (slug.to_owned(), format!("tmpl-{slug}"));
    move || {
        let Some(from) = from else {
            return podman_labelled(&slug).len() == 2;
        };
        use std::io::{Read, Seek};
        let mut f = std::fs::File::open(&log).unwrap();
        f.seek(std::io::SeekFrom::Start(from)).unwrap();
        let mut text = String::new();
        f.read_to_string(&mut text).unwrap();
        text.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .any(|e| e["Status"] == "create" && e["Name"] == name.as_str())
    }
}

/// What the next command says about the restore it found cut short.
fn recovered(p: &Project) -> String {
    let out = p.run(&["up"]);
    assert!(out.status.success());
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        said.contains("the interrupted restore of snapshot `one`"),
        "says what it found: {said}"
    );
    said
}

#[test]
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
fn a_container_goes_back_and_the_project_folder_stays() {
    let p = Project::new("snapct", &ct_env("PORTS=18611:8000\n"));
    p.ok(&["up"]);
    let key = p.sh("cat /etc/ssh/ssh_host_ed25519_key.pub");
    p.sh("echo one > /root/marker");
    let save = timed(&p, &["snapshot", "save", "one"]);
    assert_eq!(p.code(&["status"]), 0, "the container kept running");
    p.sh("echo two > /root/marker && touch /root/agent-was-here");
    p.write("notes.txt", "written after the snapshot\n");
    let restore = timed(&p, &["snapshot", "restore", "one"]);
    assert_eq!(p.sh("cat /root/marker"), "one");
    assert_eq!(
        p.sh("ls /root/agent-was-here 2>/dev/null || echo gone"),
        "gone"
    );
    assert_eq!(
        p.sh("cat /etc/ssh/ssh_host_ed25519_key.pub"),
        key,
        "same host key"
    );
    let folder = p.dir.display().to_string();
    assert_eq!(
        p.sh(&format!("cat '{folder}/notes.txt'")),
        "written after the snapshot",
        "the project folder is not rolled back"
    );
    let name = format!("tmpl-{}", p.slug());
    let ports = host_ok("podman", &["port", &name]);
    assert!(ports.contains("8000/tcp -> 127.0.0.1:18611"), "{ports}");
    let mem = host_ok(
        "podman",
        &["inspect", "--format", "{{.HostConfig.Memory}}", &name],
    );
    assert_eq!(mem.trim(), (256u64 << 20).to_string(), "same limits");
    assert_eq!(names(&p), vec!["one"]);
    let list: serde_json::Value =
        serde_json::from_str(&p.ok(&["snapshot", "list", "--json"])).unwrap();
    assert!(list[0]["size_bytes"].as_u64().unwrap() > 0);
    assert!(list[0]["created"].as_str().unwrap().ends_with('Z'));

    // bad input
    let out = p.run(&["snapshot", "restore", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no snapshot `nope`") && err.contains("one"),
        "{err}"
    );
    assert_eq!(p.code(&["snapshot", "save", "Bad Name"]), 78);
    let again = p.run(&["snapshot", "save", "one"]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists"));
    let empty = Project::new("snapnone", &ct_env(""));
    let out = empty.run(&["snapshot", "restore", "one"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("has no guest"));

    // Ctrl+C in the middle of a restore: it finishes, tmpl exits 130, the guest is the
    // snapshot's, and the next command finds nothing half done
    p.sh("echo three > /root/marker");
    let (code, err) = signal_at(
        &p,
        &["snapshot", "restore", "one"],
        "==> restoring snapshot",
        libc::SIGINT,
    );
    assert_eq!(code, Some(130), "{err}");
    assert_eq!(
        p.sh("cat /root/marker"),
        "one",
        "the new state, not half of it"
    );
    assert_eq!(
        podman_labelled(&p.slug()).len(),
        1,
        "no container left aside"
    );
    // and kill -9 in the middle: the next command finishes or undoes it, and says which.
    // Early, once the restore has noted what it does: the old container is kept
    p.sh("echo four > /root/marker");
    let slug = p.slug();
    let journal = p
        .xdg()
        .join("state/tmpl")
        .join(&slug)
        .join("snapshot-restore");
    killed_when(&p, &["snapshot", "restore", "one"], || journal.exists());
    let said = recovered(&p);
    assert!(said.contains("was undone"), "{said}");
    assert_eq!(
        p.sh("cat /root/marker"),
        "four",
        "the old container, as it says"
    );
    assert_eq!(podman_labelled(&slug).len(), 1, "exactly one container");
    // late, once the new container is made beside the old one set aside: the new one is kept
    let created = created_after_now(&slug);
    killed_when(&p, &["snapshot", "restore", "one"], created);
    let said = recovered(&p);
    assert!(said.contains("had made the new container"), "{said}");
    assert_eq!(
        p.sh("cat /root/marker"),
        "one",
        "the new container, as it says"
    );
    assert_eq!(podman_labelled(&slug).len(), 1, "exactly one container");
    // cut short between making the new container and starting it (where the kill above
    // lands depends on the machine's load), as Podman leaves it: a container that never ran,
    // made from the snapshot. All there is of the guest is that snapshot, and `up` makes the
    // container again from it, not from IMAGE
    let name = format!("tmpl-{slug}");
    host_ok("podman", &["rm", "-f", "-t", "0", &name]);
    host_ok(
        "podman",
        &[
            "create",
            "--name",
            &name,
            "--label",
            &format!("tmpl.project={slug}"),
            &format!("localhost/tmpl-snapshot/{slug}:current"),
        ],
    );
    p.ok(&["up"]);
    assert_eq!(
        p.sh("cat /root/marker"),
        "one",
        "the snapshot's guest, not a new one from IMAGE"
    );

    // a deleted snapshot leaves the container that runs from it alone
    p.ok(&["snapshot", "delete", "one"]);
    assert!(names(&p).is_empty());
    assert_eq!(p.sh("cat /root/marker"), "one");

    // before each provisioning run
    p.write("provision.sh", "echo ran >> /root/provisioned\n");
    p.write(
        ".env",
        &ct_env("PORTS=18611:8000\nPROVISION_SCRIPT=provision.sh\nSNAPSHOT_BEFORE_PROVISION=yes\n"),
    );
    p.ok(&["provision"]);
    assert_eq!(names(&p), vec!["pre-provision"]);
    p.ok(&["snapshot", "restore", "pre-provision"]);
    assert_eq!(
        p.sh("cat /root/provisioned 2>/dev/null || echo none"),
        "none"
    );

    let slug = p.slug();
    p.ok(&["snapshot", "save", "two"]);
    p.ok(&["rm", "-f"]);
    let images = host_ok(
        "podman",
        &[
            "images",
            "--filter",
            &format!("label=tmpl.project={slug}"),
            "--format",
            "{{.Repository}}:{{.Tag}}",
        ],
    );
    assert!(
        images.trim().is_empty(),
        "rm removes every snapshot: {images}"
    );
    eprintln!("container snapshot: save {save:.2}s, restore {restore:.2}s");
    assert!(
        save < 2.0 && restore < 2.0,
        "save {save:.2}s, restore {restore:.2}s"
    );
}

#[test]
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
fn a_vm_with_a_shared_folder_goes_back_and_the_folder_stays() {
    let p = Project::new(
        "snapvm",
        &format!("INFRA_TYPE=vm\nMEMORY=768\nCPUS=1\nDISK=5\nIMAGE={TEST_BOX}\n"),
    );
    p.ok(&["up"]);
    p.sh("echo one | sudo tee /root/marker >/dev/null");
    timed(&p, &["snapshot", "save", "one"]);
    assert_eq!(p.code(&["status"]), 0, "running again after the snapshot");
    p.sh("echo two | sudo tee /root/marker >/dev/null");
    p.write("notes.txt", "written after the snapshot\n");
    // Vagrant's own snapshots live beside tmpl's, under their own names
    let vagrant = p.run(&["vagrant", "--", "snapshot", "save", "vagrants"]);
    eprintln!("vagrant snapshot save: exit {:?}", vagrant.status.code());
    timed(&p, &["snapshot", "restore", "one"]);
    assert_eq!(p.sh("sudo cat /root/marker"), "one");
    let folder = p.dir.display().to_string();
    assert_eq!(
        p.sh(&format!("cat '{folder}/notes.txt'")),
        "written after the snapshot",
        "the shared folder is not rolled back"
    );
    assert_eq!(names(&p), vec!["one"], "only tmpl's own are listed");
    p.ok(&["snapshot", "delete", "one"]);
    assert!(names(&p).is_empty());
    // a stopped VM is snapshotted as it is, and stays stopped
    p.ok(&["stop"]);
    timed(&p, &["snapshot", "save", "two"]);
    assert_eq!(p.code(&["status"]), 3);
    let slug = p.slug();
    p.ok(&["rm", "-f"]);
    assert!(
        libvirt_leftovers(&slug).is_empty(),
        "{:?}",
        libvirt_leftovers(&slug)
    );
}
