#!/usr/bin/env bash
# Offline test fixtures for tmpl, built from Debian packages only (no image/box downloads):
#   1. Podman image  localhost/tmpl-test/debian12   (minbase + sshd/python3/sudo, no keys)
#   2. Vagrant box   tmpl-test/debian12 (libvirt)   (bootable, vagrant user + insecure key)
#   3. Cloud image   ~/.cache/tmpl-test/debian12-cloud.qcow2 (bootable, cloud-init, no users/keys)
# Intermediate layers (debootstrap'd base rootfs, VM rootfs) are cached as tarballs.
# Every artifact has its own stamp holding the hash of its recipe (see "Recipe keys" below); a
# rerun with unchanged recipes and artifacts present does nothing.
#
# Environment knobs:
#   TMPL_DEBIAN_MIRROR   Debian mirror for debootstrap/apt (default: the host apt's Debian mirror)
#   TMPL_FIXTURES_FORCE  1 = rebuild everything
#   TMPL_FIXTURES_ONLY   space-separated subset of: image box cloud
#   TMPL_FIXTURES_PRINT_KEYS
#                        1 = print each artifact's name and recipe key, and build nothing (no
#                        root needed; no cache, Podman storage, Vagrant box or libvirt is touched)
set -euo pipefail

SUITE=bookworm
CACHE=${TMPL_TEST_CACHE:-$HOME/.cache/tmpl-test}
WORK=/var/tmp/tmpl-fixtures
IMAGE=localhost/tmpl-test/debian12
BOX=tmpl-test/debian12
CLOUD_QCOW=$CACHE/debian12-cloud.qcow2
DISK_GIB=3

BASE_PKGS=(openssh-server python3 sudo iproute2 procps ca-certificates git curl)
VM_PKGS=(linux-image-cloud-amd64 systemd-sysv udev dbus systemd-resolved
         cloud-guest-utils e2fsprogs fdisk)
CLOUD_PKGS=(cloud-init)
# the container image only: SESSION=tmux is tested in containers, and guests cannot download
IMAGE_PKGS=(tmux)

say() { printf 'fixtures: %s\n' "$*"; }
die() { printf 'fixtures: ERROR: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1fs", b-a}'; }
hashof() { printf '%s\n' "$@" | sha256sum | cut -c1-64; }

# ---------------------------------------------------------------------------------------------
# Mount / loop bookkeeping: everything is undone by the EXIT trap, even on failure.
# ---------------------------------------------------------------------------------------------
MOUNTS=()
LOOPS=()
do_mount() { mount "$@"; MOUNTS+=("${!#}"); }
umount_all() {
    local i
    for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
        umount "${MOUNTS[i]}" 2>/dev/null || umount -l "${MOUNTS[i]}" 2>/dev/null || true
    done
    MOUNTS=()
    for i in "${LOOPS[@]}"; do losetup -d "$i" 2>/dev/null || true; done
    LOOPS=()
}
mounted_under() { awk -v p="$1/" 'index($2 "/", p) == 1 { found = 1 } END { exit !found }' /proc/mounts; }
clean_work() {
    [ -d "$WORK" ] || return 0
    if mounted_under "$WORK"; then
        say "warning: something is still mounted under $WORK; not removing it"
        return 1
    fi
    rm -rf --one-file-system "$WORK"
}
on_exit() {
    local rc=$?
    umount_all
    clean_work || true
    [ $rc -eq 0 ] || say "FAILED (exit $rc); mounts and loop devices were cleaned up"
}

# ---------------------------------------------------------------------------------------------
# Host facts
# ---------------------------------------------------------------------------------------------
host_mirror() {
    if [ -n "${TMPL_DEBIAN_MIRROR:-}" ]; then echo "$TMPL_DEBIAN_MIRROR"; return; fi
    local f m=""
    # deb822 .sources files: first stanza of type deb whose Suites contain $SUITE
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -r "$f" ] || continue
        m=$(awk -v suite="$SUITE" '
            function flush() { if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " suite " ") && uris != "" && !out) { split(uris, u, " "); print u[1]; out = 1 } types = suites = uris = "" }
            /^[[:space:]]*$/ { flush(); next }
            /^Types:/  { sub(/^Types:[[:space:]]*/, "");  types = $0 }
            /^URIs:/   { sub(/^URIs:[[:space:]]*/, "");   uris = $0 }
            /^Suites:/ { sub(/^Suites:[[:space:]]*/, ""); suites = $0 }
            END { flush() }' "$f")
        [ -n "$m" ] && { echo "$m"; return; }
    done
    # one-line format
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -r "$f" ] || continue
        m=$(sed -e 's/\[[^]]*\]//' "$f" | awk -v suite="$SUITE" '$1 == "deb" && $3 == suite { print $2; exit }')
        [ -n "$m" ] && { echo "$m"; return; }
    done
    echo "http://deb.debian.org/debian"
}

# ---------------------------------------------------------------------------------------------
# chroot helpers
# ---------------------------------------------------------------------------------------------
chroot_begin() {  # ROOT: mounts, DNS, no service starts
    local r=$1
    do_mount -t proc proc "$r/proc"
    do_mount -t sysfs sysfs "$r/sys"
    # no bind mount of the host's /dev (mount propagation could reach the host's /dev/pts):
    # debootstrap created the device nodes; a private devpts instance is enough for apt.
    mkdir -p "$r/dev/pts"
    do_mount -t devpts -o newinstance,ptmxmode=0666 devpts "$r/dev/pts"
    # keep the rootfs' own resolv.conf (file or symlink) aside; use the host's while building
    rm -f "$r/.tmpl-resolv.orig"
    if [ -e "$r/etc/resolv.conf" ] || [ -L "$r/etc/resolv.conf" ]; then
        mv "$r/etc/resolv.conf" "$r/.tmpl-resolv.orig"
    fi
    cp -L /etc/resolv.conf "$r/etc/resolv.conf"
    printf '#!/bin/sh\nexit 101\n' >"$r/usr/sbin/policy-rc.d"
    chmod 0755 "$r/usr/sbin/policy-rc.d"
    printf 'deb %s %s main\n' "$MIRROR" "$SUITE" >"$r/etc/apt/sources.list"
}
chroot_end() {  # ROOT: undo chroot_begin, leave no build-only config behind
    local r=$1 i
    rm -f "$r/usr/sbin/policy-rc.d" "$r/etc/apt/sources.list"
    if [ -L "$r/etc/resolv.conf" ]; then
        rm -f "$r/.tmpl-resolv.orig"          # a package (systemd-resolved) took it over: keep
    else
        rm -f "$r/etc/resolv.conf"
        if [ -e "$r/.tmpl-resolv.orig" ] || [ -L "$r/.tmpl-resolv.orig" ]; then
            mv "$r/.tmpl-resolv.orig" "$r/etc/resolv.conf"
        else
            : >"$r/etc/resolv.conf"
        fi
    fi
    for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
        case "${MOUNTS[i]}" in
            "$r"/*) umount "${MOUNTS[i]}"; unset 'MOUNTS[i]' ;;
        esac
    done
    MOUNTS=("${MOUNTS[@]}")
}
in_root() { local r=$1; shift; chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"; }
apt_in_root() {  # ROOT PKG...
    local r=$1; shift
    in_root "$r" apt-get -q update >/dev/null
    in_root "$r" apt-get -q -y --no-install-recommends -o Dpkg::Options::=--force-confold install "$@" \
        >"$WORK/apt.log" 2>&1 || { tail -n 30 "$WORK/apt.log" >&2; die "apt-get install $* failed in $r"; }
}
strip_rootfs() {  # ROOT: what no fixture should carry: keys, caches, build host traces
    local r=$1
    rm -f "$r"/etc/ssh/ssh_host_*
    find "$r/root" "$r/home" -name authorized_keys -delete 2>/dev/null || true
    rm -f "$r/etc/apt/sources.list" "$r"/etc/apt/sources.list.d/*
    rm -rf "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/*.bin "$r"/var/cache/apt/archives/*.deb
    rm -rf "$r"/tmp/* "$r"/var/tmp/* "$r/root/.bash_history" "$r/etc/.resolv.conf.systemd-resolved.bak"
    # the build host's DNS servers (debootstrap copies them in): empty unless managed by resolved
    [ -L "$r/etc/resolv.conf" ] || : >"$r/etc/resolv.conf"
    find "$r/var/log" -type f -exec truncate -s 0 {} + 2>/dev/null || true
    # empty machine-id: every guest gets its own (and so its own DHCP client id) at first boot
    if [ -e "$r/etc/machine-id" ]; then : >"$r/etc/machine-id"; fi
    rm -f "$r/var/lib/dbus/machine-id"
}
tar_rootfs() {  # ROOT OUT.tar
    tar --numeric-owner --xattrs --xattrs-include='*' -C "$1" -cf "$2.tmp" .
    mv "$2.tmp" "$2"
}
untar_rootfs() {  # IN.tar ROOT
    mkdir -p "$2"
    tar --numeric-owner --xattrs --xattrs-include='*' -C "$2" -xf "$1"
}

# ---------------------------------------------------------------------------------------------
# Layer 0: debootstrap'd base rootfs (shared by everything)
# ---------------------------------------------------------------------------------------------
build_base() {
    local r=$WORK/base
    local incl; incl=$(IFS=,; echo "${BASE_PKGS[*]}")
    debootstrap --variant=minbase --include="$incl" "$SUITE" "$r" "$MIRROR" \
        >"$WORK/debootstrap.log" 2>&1 || { tail -n 30 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }
    rm -f "$r"/etc/ssh/ssh_host_*
    rm -rf "$r"/var/cache/apt/archives/*.deb
    tar_rootfs "$r" "$CACHE/base-rootfs.tar"
    rm -rf --one-file-system "$r"
}
base_present() { [ -s "$CACHE/base-rootfs.tar" ]; }

# ---------------------------------------------------------------------------------------------
# Layer 1: bootable VM rootfs (base + kernel + systemd + networkd DHCP), shared by box and cloud
# ---------------------------------------------------------------------------------------------
build_vm_rootfs() {
    local r=$WORK/vm
    untar_rootfs "$CACHE/base-rootfs.tar" "$r"
    chroot_begin "$r"
    apt_in_root "$r" "${VM_PKGS[@]}"
    mkdir -p "$r/etc/systemd/network"
    cat >"$r/etc/systemd/network/80-tmpl-dhcp.network" <<'EOF'
[Match]
Name=en* eth*

[Network]
DHCP=yes
EOF
    # sshd host keys are generated at first boot (after cloud-init, which may bring its own)
    cat >"$r/etc/systemd/system/tmpl-ssh-hostkeys.service" <<'EOF'
[Unit]
Description=Generate missing SSH host keys
After=local-fs.target cloud-init.service
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=ssh.service multi-user.target
EOF
    in_root "$r" systemctl enable systemd-networkd systemd-resolved ssh tmpl-ssh-hostkeys.service >/dev/null 2>&1
    printf 'LABEL=root / ext4 defaults,errors=remount-ro 0 1\n' >"$r/etc/fstab"
    printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$r/etc/hosts"
    in_root "$r" apt-get clean
    chroot_end "$r"
    strip_rootfs "$r"
    ls "$r"/boot/vmlinuz-* >/dev/null 2>&1 || die "no kernel in VM rootfs"
    ls "$r"/boot/initrd.img-* >/dev/null 2>&1 || die "no initrd in VM rootfs"
    tar_rootfs "$r" "$CACHE/vm-rootfs.tar"
    rm -rf --one-file-system "$r"
}
vm_present() { [ -s "$CACHE/vm-rootfs.tar" ]; }

# ---------------------------------------------------------------------------------------------
# Bootable disk: VM_ROOTFS + CUSTOMIZE_FN -> qcow2 (MBR, one ext4 partition labelled root,
# extlinux). Loop partition scanning does not work on every host: attach with an offset.
# ---------------------------------------------------------------------------------------------
make_disk() {  # OUT.qcow2 CUSTOMIZE_FN HOSTNAME
    local out=$1 customize=$2 hostname=$3
    local raw=$WORK/disk.raw mnt=$WORK/mnt off=$((2048 * 512)) size=$((DISK_GIB * 1024 * 1024 * 1024))
    rm -f "$raw"; truncate -s "$size" "$raw"
    printf 'label: dos\nstart=2048, type=83, bootable\n' | sfdisk --quiet "$raw"
    local loop; loop=$(losetup -f --show -o "$off" --sizelimit $((size - off)) "$raw")
    LOOPS+=("$loop")
    mkfs.ext4 -q -L root "$loop"
    mkdir -p "$mnt"
    do_mount "$loop" "$mnt"
    untar_rootfs "$CACHE/vm-rootfs.tar" "$mnt"
    echo "$hostname" >"$mnt/etc/hostname"
    printf '127.0.1.1\t%s\n' "$hostname" >>"$mnt/etc/hosts"
    "$customize" "$mnt"
    local kver
    kver=$(basename "$(ls "$mnt"/boot/vmlinuz-* | sort -V | tail -n1)"); kver=${kver#vmlinuz-}
    mkdir -p "$mnt/boot/extlinux"
    cat >"$mnt/boot/extlinux/extlinux.conf" <<EOF
DEFAULT debian
PROMPT 0
TIMEOUT 0
LABEL debian
    LINUX /boot/vmlinuz-$kver
    INITRD /boot/initrd.img-$kver
    APPEND root=LABEL=root rw console=tty0 console=ttyS0,115200n8 net.ifnames=0
EOF
    extlinux --install "$mnt/boot/extlinux" >/dev/null 2>&1 || die "extlinux --install failed"
    sync
    umount "$mnt"; MOUNTS=("${MOUNTS[@]:0:${#MOUNTS[@]}-1}")
    losetup -d "$loop"; LOOPS=("${LOOPS[@]:0:${#LOOPS[@]}-1}")
    dd if=/usr/lib/syslinux/mbr/mbr.bin of="$raw" bs=440 count=1 conv=notrunc status=none
    qemu-img convert -O qcow2 "$raw" "$out.tmp"
    mv "$out.tmp" "$out"
    rm -f "$raw"
}

# ---------------------------------------------------------------------------------------------
# Artifact 1: Podman image
# ---------------------------------------------------------------------------------------------
build_image() {
    local r=$WORK/ctr
    untar_rootfs "$CACHE/base-rootfs.tar" "$r"
    chroot_begin "$r"
    apt_in_root "$r" "${IMAGE_PKGS[@]}"
    in_root "$r" apt-get clean
    chroot_end "$r"
    strip_rootfs "$r"
    rm -f "$r/etc/hostname"
    local old; old=$(podman image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
    tar --numeric-owner --xattrs -C "$r" -c . |
        podman import --change 'CMD ["/bin/bash"]' - "$IMAGE" >"$WORK/import.log" 2>&1 ||
        { cat "$WORK/import.log" >&2; die "podman import failed"; }
    rm -rf --one-file-system "$r"
    podman image exists "$IMAGE" || die "podman import did not produce $IMAGE"
    # drop the previous build (now untagged) unless a container still uses it
    if [ -n "$old" ] && [ "$old" != "$(podman image inspect --format '{{.Id}}' "$IMAGE")" ]; then
        podman rmi "$old" >/dev/null 2>&1 || true
    fi
}
image_present() { podman image exists "$IMAGE"; }

# ---------------------------------------------------------------------------------------------
# Artifact 2: Vagrant box (libvirt)
# ---------------------------------------------------------------------------------------------
customize_box() {
    local r=$1
    in_root "$r" useradd --create-home --shell /bin/bash --user-group vagrant
    in_root "$r" usermod -p '*' vagrant   # no password, but not "locked" for sshd
    printf 'vagrant ALL=(ALL) NOPASSWD:ALL\nDefaults:vagrant !requiretty\n' >"$r/etc/sudoers.d/vagrant"
    chmod 0440 "$r/etc/sudoers.d/vagrant"
    install -d -m 0700 "$r/home/vagrant/.ssh"
    install -m 0600 "$VAGRANT_PUB" "$r/home/vagrant/.ssh/authorized_keys"
    in_root "$r" chown -R vagrant:vagrant /home/vagrant/.ssh
}
build_box() {
    local d=$WORK/box
    mkdir -p "$d"
    make_disk "$d/box.img" customize_box tmpl-debian12
    printf '{"provider":"libvirt","format":"qcow2","virtual_size":%d}\n' "$DISK_GIB" >"$d/metadata.json"
    tar -C "$d" -cf "$d/tmpl-debian12.box" metadata.json box.img
    rm -f "$d/box.img"
    remove_stale_box_volumes
    vagrant box add --force --name "$BOX" "$d/tmpl-debian12.box" >"$WORK/box-add.log" 2>&1 ||
        { cat "$WORK/box-add.log" >&2; die "vagrant box add failed"; }
    rm -rf "$d"
}
box_present() { vagrant box list 2>/dev/null | grep -Eq "^${BOX//\//\\/}[[:space:]]+\(libvirt,"; }
# vagrant-libvirt copies the box's disk into the libvirt pool on first use and leaves it there;
# when the box is replaced, drop the old copies (unless a VM's disk is still backed by one).
remove_stale_box_volumes() {
    local prefix=${BOX//\//-VAGRANTSLASH-}_vagrant_box_image_ v vols users
    command -v virsh >/dev/null || return 0
    vols=$(virsh -q -c qemu:///system vol-list default 2>/dev/null | awk -v p="$prefix" 'index($1, p) == 1 { print $2 }') || return 0
    for v in $vols; do
        users=$(for x in $(virsh -q -c qemu:///system vol-list default | awk '{print $1}'); do
                    virsh -c qemu:///system vol-dumpxml --pool default "$x" 2>/dev/null | grep -F "<path>$v</path>" >/dev/null && echo "$x"
                done | grep -v -x -F "$(basename "$v")" | tr '\n' ' ' || true)
        if [ -n "$users" ]; then
            say "note: old box volume $(basename "$v") still backs: ${users% }; leaving it in the pool"
        else
            virsh -q -c qemu:///system vol-delete "$v" >/dev/null && say "removed old box volume $v from libvirt pool default"
        fi
    done
}

# ---------------------------------------------------------------------------------------------
# Artifact 3: cloud image (like a distribution's: cloud-init, no users, no keys)
# ---------------------------------------------------------------------------------------------
customize_cloud() {
    local r=$1
    chroot_begin "$r"
    apt_in_root "$r" "${CLOUD_PKGS[@]}"
    # cloud-init's locale module sets LANG=en_US.UTF-8 by default and fails unless Debian's
    # locale-gen (which ignores its arguments) has that locale enabled, as real images do.
    sed -i 's/^# *\(en_US.UTF-8 UTF-8\)/\1/' "$r/etc/locale.gen"
    grep -q '^en_US.UTF-8 UTF-8' "$r/etc/locale.gen" || echo 'en_US.UTF-8 UTF-8' >>"$r/etc/locale.gen"
    in_root "$r" locale-gen >/dev/null
    in_root "$r" apt-get clean
    chroot_end "$r"
    strip_rootfs "$r"
    # cloud-init must be fully configured (debootstrap alone leaves it half-installed)
    in_root "$r" dpkg-query -W -f='${db:Status-Abbrev}' cloud-init | grep -q '^ii' || die "cloud-init not configured"
    in_root "$r" test -x /usr/bin/cloud-init || die "cloud-init missing"
    rm -rf "$r/var/lib/cloud"
}
build_cloud() {
    make_disk "$CLOUD_QCOW" customize_cloud debian
}
cloud_present() { [ -s "$CLOUD_QCOW" ]; }

# ---------------------------------------------------------------------------------------------
# Recipe keys. A key covers everything that decides what an artifact contains: its build
# function and every function of this script that it reaches, the recipe variables and files
# those functions mention, and the keys of the layers it is built from. All of it is found from
# the code, because hand-kept lists drift (do_mount, which every chroot and disk goes through,
# was in none of them) and a change they miss leaves a stale fixture in the cache.
# Host tools (debootstrap, extlinux, ...) are not covered: after upgrading one, rebuild with
# TMPL_FIXTURES_FORCE=1. scripts/test-fixtures-keys.sh checks which edits change which keys.
# ---------------------------------------------------------------------------------------------
# Variables whose values shape artifacts; an artifact's key has those its functions mention (as
# a word), so a package list change rebuilds only what installs it. The cache and work paths
# and the mount bookkeeping are left out: they say where a build happens, not what it makes.
RECIPE_VARS=(SUITE MIRROR DISK_GIB BASE_PKGS VM_PKGS IMAGE_PKGS CLOUD_PKGS IMAGE BOX)
# Variables naming a file copied into an artifact: the key has the file's content, not its
# path, which changes with every Vagrant release.
RECIPE_FILES=(VAGRANT_PUB)

# The functions a recipe can reach. Functions inherited from the environment are no part of
# one (and sudo drops them); nor is main, which drives every build, and whose name is also a
# word of every chroot's sources.list ("deb MIRROR SUITE main").
script_fns() (
    shopt -s extdebug   # declare -F then says where a function was defined (in this subshell only)
    local f
    for f in $(compgen -A function); do
        [ "$f" != main ] || continue
        if [ "$(declare -F "$f" | cut -d' ' -f3-)" = "${BASH_SOURCE[0]}" ]; then echo "$f"; fi
    done
)
# calls FN...: the functions of SCRIPT_FNS whose names appear, as words, in FN's text. Matching
# words rather than parsing calls also catches a function passed by name (make_disk's
# customizer); a false hit costs at most a needless rebuild.
calls() { declare -f "$@" | grep -owF -f <(printf '%s\n' "${SCRIPT_FNS[@]}"); }
# fn_closure FN...: FN and, transitively, every function it calls; sorted in the C locale, so
# that a key does not depend on who runs the script.
fn_closure() {
    local fns=("$@") n=0
    while [ "${#fns[@]}" -ne "$n" ]; do
        n=${#fns[@]}
        mapfile -t fns < <({ printf '%s\n' "${fns[@]}"; calls "${fns[@]}"; } | LC_ALL=C sort -u)
    done
    printf '%s\n' "${fns[@]}"
}
recipe_inputs() {  # CODE: the recipe variables and files that CODE mentions, with their values
    local v
    for v in "${RECIPE_VARS[@]}"; do
        grep -qw -- "$v" <<<"$1" || continue
        local -n val=$v
        printf '%s=%s\n' "$v" "${val[*]}"
        unset -n val
    done
    for v in "${RECIPE_FILES[@]}"; do
        grep -qw -- "$v" <<<"$1" || continue
        printf '%s:\n' "$v"
        cat "${!v}"
    done
}
recipe_key() {  # NAME BUILD_FN [KEY_OF_LOWER_LAYER...]
    local name=$1 build=$2 fns code; shift 2
    mapfile -t fns < <(fn_closure "$build")
    code=$(declare -f "${fns[@]}")
    hashof "$name" "$@" "$code" "$(recipe_inputs "$code")"
}

# ---------------------------------------------------------------------------------------------
# Cache driver
# ---------------------------------------------------------------------------------------------
stamp_ok() { [ "${TMPL_FIXTURES_FORCE:-0}" != 1 ] && [ -f "$CACHE/$1.stamp" ] && [ "$(head -n1 "$CACHE/$1.stamp")" = "$2" ]; }
stamp_write() { printf '%s\n%s\n' "$2" "built $(date -u +%FT%TZ) mirror=$MIRROR" >"$CACHE/$1.stamp"; }
# ensure NAME KEY PRESENT_FN BUILD_FN DESCRIPTION
ensure() {
    local name=$1 key=$2 present=$3 build=$4 what=$5 t; t=$(now)
    if stamp_ok "$name" "$key" && "$present"; then
        say "$what: up to date ($(since "$t"))"
        return 0
    fi
    say "$what: building..."
    rm -f "$CACHE/$name.stamp"
    "$build"
    stamp_write "$name" "$key"
    say "$what: built in $(since "$t")"
    BUILT+=("$what")
}

want() { [ -z "${TMPL_FIXTURES_ONLY:-}" ] || [[ " $TMPL_FIXTURES_ONLY " == *" $1 "* ]]; }

main() {
    local t0; t0=$(now)
    local print_keys=${TMPL_FIXTURES_PRINT_KEYS:-0}
    if [ "$print_keys" != 1 ]; then
        [ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap, loop devices, mounts)"
        local tool missing=()
        for tool in debootstrap podman vagrant virsh qemu-img sfdisk losetup mkfs.ext4 extlinux tar sha256sum; do
            command -v "$tool" >/dev/null || missing+=("$tool")
        done
        [ -f /usr/lib/syslinux/mbr/mbr.bin ] || missing+=("/usr/lib/syslinux/mbr/mbr.bin")
        [ ${#missing[@]} -eq 0 ] || die "missing: ${missing[*]} (run: bash scripts/setup.sh)"
    fi
    VAGRANT_PUB=$(ls /usr/share/rubygems-integration/all/gems/vagrant-*/keys/vagrant.pub 2>/dev/null | sort -V | tail -n1 || true)
    [ -r "$VAGRANT_PUB" ] || die "Vagrant's insecure public key (vagrant-*/keys/vagrant.pub) not found"
    MIRROR=$(host_mirror)

    # Keys before anything is locked, created or cleaned: printing them must touch nothing.
    mapfile -t SCRIPT_FNS < <(script_fns)
    local k_base k_vm k_image k_box k_cloud
    k_base=$(recipe_key base build_base)
    k_vm=$(recipe_key vm build_vm_rootfs "$k_base")
    k_image=$(recipe_key image build_image "$k_base")
    k_box=$(recipe_key box build_box "$k_vm")
    k_cloud=$(recipe_key cloud build_cloud "$k_vm")
    if [ "$print_keys" = 1 ]; then
        printf '%s %s\n' base "$k_base" vm "$k_vm" image "$k_image" box "$k_box" cloud "$k_cloud"
        return 0
    fi

    mkdir -p "$CACHE"
    exec 9>"$CACHE/.lock"
    flock -w 3600 9 || die "another fixtures.sh holds $CACHE/.lock"
    trap on_exit EXIT
    clean_work || die "$WORK has leftover mounts from an earlier run; unmount them first"
    mkdir -p "$WORK"

    BUILT=()
    say "mirror $MIRROR, cache $CACHE"
    # Layers are only (re)built when an artifact that needs them is out of date.
    local need_image=0 need_box=0 need_cloud=0
    want image && ! { stamp_ok image "$k_image" && image_present; } && need_image=1
    want box   && ! { stamp_ok box "$k_box" && box_present; } && need_box=1
    want cloud && ! { stamp_ok cloud "$k_cloud" && cloud_present; } && need_cloud=1
    if [ $need_image = 1 ] || [ $need_box = 1 ] || [ $need_cloud = 1 ]; then
        ensure base "$k_base" base_present build_base "base rootfs ($CACHE/base-rootfs.tar)"
    fi
    if [ $need_box = 1 ] || [ $need_cloud = 1 ]; then
        ensure vm "$k_vm" vm_present build_vm_rootfs "VM rootfs ($CACHE/vm-rootfs.tar)"
    fi
    want image && ensure image "$k_image" image_present build_image "podman image $IMAGE"
    want box   && ensure box "$k_box" box_present build_box "vagrant box $BOX"
    want cloud && ensure cloud "$k_cloud" cloud_present build_cloud "cloud image $CLOUD_QCOW"

    say "done in $(since "$t0"): ${#BUILT[@]} built${BUILT[*]:+ (}$(IFS=,; echo "${BUILT[*]}")${BUILT[*]:+)}"
}

main "$@"
