//! A box's first boot, done by tmpl over SSH instead of by Vagrant's `insert_key` and
//! `vm.hostname` steps, which cost 30 s and more under emulation (see the README's Speed).

use super::keys;
use super::plan::BoxSource;
use super::vm::Vagrant;
use crate::ssh::Access;
use crate::timing::Phases;
use anyhow::Result;

/// A box's first-boot work over SSH: the hostname, the project's key in place of Vagrant's
/// insecure one, the root filesystem grown (cloud images get all three from cloud-init).
const FIRST_BOOT: &str = include_str!("first-boot.sh");

/// Notes in the state dir that a box's first boot is done, so that an `up` cut off before
/// it leaves the work to the next one, and no later `up` repeats it.
const FIRST_BOOT_RECORD: &str = "first-boot";

impl Vagrant {
    /// A box VM's login (see `keys`); `None` for cloud images, which always use the
    /// project's key.
    pub(super) fn box_login(&self) -> Option<keys::Login> {
        self.made_from_box().then(|| {
            keys::login(
                &self.machine_dir().join("private_key"),
                &keys::insecure_keys(),
                &self.access.dir,
            )
        })
    }

    pub(super) fn made_from_box(&self) -> bool {
        matches!(
            self.plan.box_source,
            BoxSource::Named | BoxSource::BoxFile(_)
        )
    }

    /// A box's first boot, unless the record says it is done.
    pub(super) fn finish_first_boot(&self, access: &Access, phases: &mut Phases) -> Result<()> {
        let record = self.loaded.id.state_dir.join(FIRST_BOOT_RECORD);
        if record.is_file() {
            return Ok(());
        }
        self.first_boot(access, phases)?;
        crate::atomic::write(&record, b"done\n", 0o600)
    }

    /// A box's first-boot work, in one SSH command (see `FIRST_BOOT`). It is tmpl's first
    /// contact with the guest, which pins its host key; while the project's key is not in
    /// yet, Vagrant's insecure key is offered too, on a connection of its own.
    fn first_boot(&self, access: &Access, phases: &mut Phases) -> Result<()> {
        let mut args: Vec<String> = ["sudo", "sh", "-c", FIRST_BOOT, "sh"]
            .map(String::from)
            .into();
        args.push(self.plan.context.hostname.clone());
        args.push(self.plan.context.ssh.username.clone());
        let offered = match self.box_login() {
            Some(keys::Login::Project { insecure }) => {
                args.push(self.access.ensure_key()?);
                args.extend(keys::public_blobs(&insecure)?);
                insecure
            }
            _ => Vec::new(),
        };
        let cmd = access.command_offering(&args, &offered)?;
        phases.run(
            "first_boot",
            "naming the VM, giving it the project's key, growing its disk",
            || cmd.read().map(|_| ()),
        )
    }
}
