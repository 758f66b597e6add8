//! The VM's login user under the person's own uid and gid, when an ordinary person runs tmpl
//! and the guest shares the project folder: virtiofs passes numeric ids through, so a file the
//! guest's user writes into the folder is then the person's on the host, and the folder the
//! person owns is writable in the guest without sudo. Root's guests keep the image's ids
//! (1000), as before.
//!
//! Cloud images get the ids from cloud-init, which creates the user. A box's user exists
//! already (vagrant, uid 1000): it is renumbered over SSH after the first boot, from a
//! session of that very user, so the account files are edited rather than `usermod -u`d, and
//! the shared connection, whose sshd child still holds the old uid, is closed afterwards so
//! the next `tmpl ssh` logs in afresh under the new one.

use crate::error::{ExitStatus, Failure};
use crate::ssh::Access;
use crate::timing::Phases;
use anyhow::Result;
use std::path::{Path, PathBuf};

/// The login user tmpl creates in a cloud image.
pub const CLOUD_USER: &str = "tmpl";

const LOGIN_IDS: &str = include_str!("login-ids.sh");

/// The uid and gid the login user gets, or None: root's guests and guests without the
/// folder keep the image's own.
pub fn wanted(shared: bool) -> Option<(u32, u32)> {
    (shared && !crate::person::is_root()).then(|| (crate::person::uid(), crate::person::gid()))
}

/// cloud-config's `bootcmd` entry for the ids: it makes the primary group with the gid
/// (cloud-init cannot give a group a gid; bootcmd runs before users are created). A group
/// that already has the gid is used as it is.
pub fn bootcmd(gid: u32) -> Vec<String> {
    let user = CLOUD_USER;
    let make = format!("getent group {gid} >/dev/null || groupadd --gid {gid} {user}");
    vec!["sh".into(), "-c".into(), make]
}

/// Where `settle` notes the ids it gave: an `up` interrupted before then finishes the job on
/// the next `up`, which does not otherwise settle a VM it did not create.
fn record(state_dir: &Path) -> PathBuf {
    state_dir.join("login-ids")
}

/// Has `settle` been done for these ids? (A file read: `up` on a running VM asks it.)
pub fn settled(state_dir: &Path, (uid, gid): (u32, u32)) -> bool {
    std::fs::read_to_string(record(state_dir)).is_ok_and(|t| t.trim() == format!("{uid}:{gid}"))
}

/// After the first boot: the login user has (or is given, on boxes) the ids.
pub fn settle(
    access: &Access,
    state_dir: &Path,
    user: &str,
    (uid, gid): (u32, u32),
    from_box: bool,
    phases: &mut Phases,
) -> Result<()> {
    if from_box {
        let script = [
            "sudo".into(),
            "sh".into(),
            "-c".into(),
            LOGIN_IDS.into(),
            "sh".into(),
            user.into(),
            uid.to_string(),
            gid.to_string(),
        ];
        let cmd = access.command(&script, false)?;
        let out = phases.run("ids", "giving the VM's user your uid and gid", || {
            cmd.output()
        })?;
        // whatever happened, no later command may ride the session of the old uid
        access.close_master();
        if let Some(taken) = out.stdout.lines().find_map(|l| l.strip_prefix("taken ")) {
            return Err(taken_failure(user, uid, gid, taken).into());
        }
        if !out.success() {
            return Err(Failure::new(
                ExitStatus::Failure,
                format!("cannot give the VM's user `{user}` your uid {uid} and gid {gid}"),
            )
            .detail(out.stderr.trim().to_owned())
            .hint("`tmpl ssh -- sudo id` shows the guest's accounts; `tmpl rm` then `tmpl up` tries again")
            .into());
        }
    }
    // a fresh login after the close above: it shows the ids the next `tmpl ssh` gets
    let line = access.command_line("id -u && id -g", false)?.read()?;
    let ids: Vec<&str> = line.split_whitespace().collect();
    if ids != [uid.to_string(), gid.to_string()] {
        return Err(Failure::new(
            ExitStatus::Failure,
            format!(
                "the VM's user `{user}` has ids {}, not your uid {uid} and gid {gid}",
                ids.join(":")
            ),
        )
        .detail("files it writes into the project folder would not be yours on the host")
        .hint("cloud images: the cloud-init log in the guest (`tmpl ssh -- sudo cat /var/log/cloud-init.log`) says why; `tmpl rm` then `tmpl up` tries again")
        .into());
    }
    crate::atomic::write(
        &record(state_dir),
        format!("{uid}:{gid}\n").as_bytes(),
        0o600,
    )?;
    Ok(())
}

fn taken_failure(user: &str, uid: u32, gid: u32, taken: &str) -> Failure {
    let (kind, other) = taken.split_once(' ').unwrap_or(("user", taken));
    let (id, what) = if kind == "group" {
        (gid, "gid")
    } else {
        (uid, "uid")
    };
    Failure::new(
        ExitStatus::Failure,
        format!("the VM's user `{user}` cannot take your {what} {id}: the guest's {kind} `{other}` has it"),
    )
    .detail("the login user needs your uid and gid so that files it writes into the shared project folder are yours on the host")
    .hint(format!("use a box whose accounts leave uid {uid} and gid {gid} free, or a cloud image (IMAGE=…qcow2, where tmpl makes the user), or SYNC=none (no shared folder, no need for your ids); then `tmpl rm` and `tmpl up`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloud_init_makes_the_group_with_its_gid() {
        let cmd = bootcmd(2320);
        assert_eq!(cmd[..2], ["sh", "-c"]);
        assert_eq!(
            cmd[2],
            "getent group 2320 >/dev/null || groupadd --gid 2320 tmpl"
        );
    }

    #[test]
    fn only_the_ids_recorded_count_as_settled() {
        let d = tempfile::tempdir().unwrap();
        assert!(!settled(d.path(), (2310, 2330)));
        std::fs::write(record(d.path()), "2310:2330\n").unwrap();
        assert!(settled(d.path(), (2310, 2330)));
        assert!(
            !settled(d.path(), (2310, 2310)),
            "another gid is not settled"
        );
    }

    #[test]
    fn a_taken_id_names_both_and_the_way_out() {
        let f = taken_failure("vagrant", 2310, 2320, "group staff");
        assert!(f.message.contains("gid 2320"), "{}", f.message);
        assert!(f.message.contains("`staff`"));
        assert!(f.message.contains("`vagrant`"));
        assert!(f.hint.unwrap().contains("SYNC=none"));
        let f = taken_failure("vagrant", 2310, 2320, "user ann");
        assert!(f.message.contains("uid 2310") && f.message.contains("user `ann`"));
    }
}
