#!/usr/bin/env bash
# Host setup for tmpl and its tests: packages, libvirt + Podman daemons, libvirt default
# network/pool, and the Podman workarounds some hosts need. Idempotent: a second run changes
# nothing and takes a few seconds. Debian/Ubuntu (apt) only.
#
# Environment knobs:
#   TMPL_SETUP_SKIP_PACKAGES=1   do not install packages (only check/start services)
set -euo pipefail

PODMAN_SOCK=/run/podman/podman.sock
PODMAN_LOG=/var/log/tmpl-podman-service.log
PODMAN_PIDFILE=/run/tmpl-podman-service.pid
DROPIN_DIR=/etc/containers/containers.conf.d
DROPIN=$DROPIN_DIR/50-tmpl.conf
DROPIN_MARK="# Written by tmpl scripts/setup.sh"
VIRSH=(virsh -q -c qemu:///system)

T0=$(date +%s.%N)
CHANGES=()
say()  { printf 'setup: %s\n' "$*"; }
change() { CHANGES+=("$*"); say "$*"; }
die()  { printf 'setup: ERROR: %s\n' "$*" >&2; exit 1; }
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1fs", b-a}'; }

# Bounded wait: wait_for SECONDS DESCRIPTION CMD...
wait_for() {
    local secs=$1; shift 2   # $2: description, for the reader
    local end=$((SECONDS + secs))
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $end ] || return 1
        sleep 0.5
    done
}

# ---------------------------------------------------------------------------------------------
# 0. Privileges and platform
# ---------------------------------------------------------------------------------------------
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        say "not root, re-running with sudo"
        exec sudo -E bash "$0" "$@"
    fi
    die "must run as root (sudo not found)"
fi

# One list for this script and `tmpl doctor`: scripts/requirements.txt
REQUIREMENTS="$(dirname "$0")/requirements.txt"
mapfile -t PACKAGES < <(awk '!/^#/ && NF >= 3 { print $2 }' "$REQUIREMENTS" | sort -u)
[ "${#PACKAGES[@]}" -gt 0 ] || { printf 'setup: ERROR: no packages in %s\n' "$REQUIREMENTS" >&2; exit 1; }

OS_ID=""; OS_LIKE=""; OS_CODENAME=""
if [ -r /etc/os-release ]; then
    # shellcheck disable=SC1091
    . /etc/os-release
    OS_ID=${ID:-}; OS_LIKE=${ID_LIKE:-}; OS_CODENAME=${VERSION_CODENAME:-}
fi
case " $OS_ID $OS_LIKE " in
    *" debian "*|*" ubuntu "*) ;;
    *) OS_ID=unsupported ;;
esac
if [ "$OS_ID" = unsupported ] || ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-query >/dev/null 2>&1; then
    cat >&2 <<EOF
setup: ERROR: only Debian/Ubuntu hosts with apt are supported by this script.
Install these by hand (names as in Debian), then start libvirtd, virtlogd and the Podman API
socket (unix://$PODMAN_SOCK), and make sure the libvirt 'default' network and storage pool exist:
  ${PACKAGES[*]}
EOF
    exit 1
fi

# ---------------------------------------------------------------------------------------------
# 1. Packages
# ---------------------------------------------------------------------------------------------
step_t=$(date +%s.%N)
missing=()
for p in "${PACKAGES[@]}"; do
    st=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
    [ "${st:0:2}" = "ii" ] || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
    say "packages: all ${#PACKAGES[@]} already installed"
elif [ "${TMPL_SETUP_SKIP_PACKAGES:-0}" = 1 ]; then
    die "packages missing and TMPL_SETUP_SKIP_PACKAGES=1: ${missing[*]}"
else
    say "packages: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    install=("${PACKAGES[@]}")
    extra=()
    if [ "$OS_CODENAME" = bookworm ]; then
        # A newer qemu-utils (e.g. from backports) conflicts with bookworm's qemu-system-x86:
        # take both from bookworm, downgrading qemu-utils if needed.
        install=("${install[@]/#qemu-utils/qemu-utils/bookworm}")
        extra=(--allow-downgrades)
    fi
    if ! apt-get update -q >/tmp/tmpl-setup-apt-update.log 2>&1; then
        say "warning: apt-get update reported errors (see /tmp/tmpl-setup-apt-update.log); continuing"
    fi
    if ! apt-get install -y -q "${extra[@]}" -o Dpkg::Options::=--force-confold \
            "${install[@]}" >/tmp/tmpl-setup-apt-install.log 2>&1; then
        tail -n 30 /tmp/tmpl-setup-apt-install.log >&2
        die "apt-get install failed (full log: /tmp/tmpl-setup-apt-install.log)"
    fi
    change "installed packages: ${missing[*]} ($(elapsed "$step_t"))"
fi

# ---------------------------------------------------------------------------------------------
# 2. Podman configuration for hosts that need it (must precede starting the API service)
# ---------------------------------------------------------------------------------------------
# Podman (as root) asks the OCI runtime to set nofile/nproc to 1048576, which fails where the
# hard limits are lower and cannot be raised; crun refuses hybrid cgroup v1/v2 hosts.
podman_needs=()
ulimit_lines=""
if ! (ulimit -Hn 1048576) 2>/dev/null; then
    hn=$(ulimit -Hn); hu=$(ulimit -Hu)
    nofile=1024; [ "$hn" != unlimited ] && [ "$hn" -lt $nofile ] && nofile=$hn
    nproc=4096;  [ "$hu" != unlimited ] && [ "$hu" -lt $nproc ] && nproc=$hu
    ulimit_lines="default_ulimits = [\"nofile=$nofile:$nofile\", \"nproc=$nproc:$nproc\"]"
    podman_needs+=("hard nofile limit $hn cannot be raised to Podman's default 1048576")
fi
cgroup_mode=unified
if [ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" != cgroup2fs ]; then
    if [ -d /sys/fs/cgroup/unified ] && [ "$(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ]; then
        cgroup_mode=hybrid
    else
        cgroup_mode=legacy
    fi
fi
runtime_line=""
if [ "$cgroup_mode" = hybrid ]; then
    command -v runc >/dev/null || die "hybrid cgroups need runc, which is not installed"
    runtime_line='runtime = "runc"'
    podman_needs+=("cgroups are hybrid v1/v2, which crun refuses")
fi

want_dropin=""
if [ "${#podman_needs[@]}" -gt 0 ]; then
    want_dropin="$DROPIN_MARK: this host needs it because:"
    for r in "${podman_needs[@]}"; do want_dropin+=$'\n'"#   - $r"; done
    want_dropin+=$'\n'"[containers]"
    [ -n "$ulimit_lines" ] && want_dropin+=$'\n'"$ulimit_lines"
    want_dropin+=$'\n'"[engine]"
    [ -n "$runtime_line" ] && want_dropin+=$'\n'"$runtime_line"
fi

podman_conf_changed=0
if [ -n "$want_dropin" ]; then
    if [ -e "$DROPIN" ] && ! head -n1 "$DROPIN" | grep -qF "$DROPIN_MARK"; then
        die "$DROPIN exists and was not written by tmpl; not overwriting it. It should contain:
$want_dropin"
    fi
    if [ "$(cat "$DROPIN" 2>/dev/null)" != "$want_dropin" ]; then
        mkdir -p "$DROPIN_DIR"
        printf '%s\n' "$want_dropin" >"$DROPIN.tmp" && mv "$DROPIN.tmp" "$DROPIN"
        podman_conf_changed=1
        change "wrote $DROPIN because $(IFS=';'; echo "${podman_needs[*]}")"
    else
        say "podman: $DROPIN up to date"
    fi
elif [ -e "$DROPIN" ] && head -n1 "$DROPIN" | grep -qF "$DROPIN_MARK"; then
    rm -f "$DROPIN"
    podman_conf_changed=1
    change "removed $DROPIN (this host no longer needs it)"
else
    say "podman: host needs no configuration change"
fi

if [ -n "$runtime_line" ]; then
    rt=$(podman info --format '{{.Host.OCIRuntime.Name}}' 2>/dev/null || true)
    [ "$rt" = runc ] || die "podman still uses OCI runtime '$rt' after writing $DROPIN (does this Podman read containers.conf.d drop-ins? A CONTAINERS_CONF variable or /etc/containers/containers.conf may override it)"
    say "podman: OCI runtime is runc"
fi

# ---------------------------------------------------------------------------------------------
# 2b. People, not only root: libvirt's socket for its group, subordinate ids, rootless storage
# ---------------------------------------------------------------------------------------------
# A person in the `libvirt` group reaches qemu:///system through the read-write socket. Its
# default authentication is polkit, which needs dbus: on a host without them (containers, CI,
# no systemd) every user but root gets "Unable to get system bus connection". The socket's
# group and mode are the access control instead, as libvirt documents for hosts without
# polkit. The read-only socket is left alone: tmpl never uses it (qemu:///system opens the
# read-write one), and opening it with "none" would show every local account every VM's XML,
# other people's project paths included.
LIBVIRTD_CONF=/etc/libvirt/libvirtd.conf
LIBVIRT_MARK="# tmpl (scripts/setup.sh): the libvirt group's socket without polkit"
LIBVIRT_END="# end of tmpl's settings"
libvirt_wanted=('unix_sock_group = "libvirt"' 'unix_sock_rw_perms = "0770"' 'auth_unix_rw = "none"')
libvirt_conf_changed=0
if [ -f "$LIBVIRTD_CONF" ]; then
    # the file without tmpl's block: what the package or the admin set
    others=$(awk -v m="$LIBVIRT_MARK" -v e="$LIBVIRT_END" '$0==m{skip=1} !skip{print} $0==e{skip=0}' "$LIBVIRTD_CONF")
    block=""
    for want in "${libvirt_wanted[@]}"; do
        key=${want%% *}
        have=$(grep -E "^[[:space:]]*${key}[[:space:]]*=" <<<"$others" | tail -n1 || true)
        if [ -z "$have" ]; then
            block+="$want"$'\n'
        elif [ "$(tr -d '[:space:]' <<<"$have")" != "$(tr -d '[:space:]' <<<"$want")" ]; then
            die "$LIBVIRTD_CONF sets \`$have\`, not tmpl's \`$want\`; not overwriting it. Change it by hand (people in the libvirt group need it), then run this again"
        fi
    done
    wanted_conf=$others
    [ -n "$block" ] && wanted_conf+=$'\n'"$LIBVIRT_MARK"$'\n'"$block$LIBVIRT_END"
    if [ "$wanted_conf" != "$(cat "$LIBVIRTD_CONF")" ]; then
        printf '%s\n' "$wanted_conf" >"$LIBVIRTD_CONF.tmpl-new"
        chmod --reference="$LIBVIRTD_CONF" "$LIBVIRTD_CONF.tmpl-new"
        mv "$LIBVIRTD_CONF.tmpl-new" "$LIBVIRTD_CONF"
        libvirt_conf_changed=1
        change "set libvirt's read-write socket to the libvirt group, mode 0770, no polkit ($LIBVIRTD_CONF)"
    else
        say "libvirt: socket settings for the libvirt group in place"
    fi
fi

# The project folder reaches a guest only through tmpl's file server, a FUSE mount of the
# person's (see the README, "The project folder in the guest"). For a VM, libvirt's own
# virtiofsd, which runs as root, reads that mount: a person's mount must let root in, which
# fusermount3 allows only with `user_allow_other` in /etc/fuse.conf. It grants no one
# anything by itself: tmpl's mounts sit in folders only their owner can open.
FUSE_CONF=/etc/fuse.conf
if [ -e /dev/fuse ]; then
    if ! grep -Eq '^[[:space:]]*user_allow_other[[:space:]]*$' "$FUSE_CONF" 2>/dev/null; then
        printf '# tmpl (scripts/setup.sh): libvirt'"'"'s virtiofsd reads a person'"'"'s FUSE share\nuser_allow_other\n' >>"$FUSE_CONF"
        change "allowed FUSE mounts of persons to let root in ($FUSE_CONF: user_allow_other)"
    else
        say "fuse: user_allow_other in place"
    fi
fi

# Rootless Podman maps a person's containers onto subordinate ids. useradd gives them to
# accounts it makes; accounts made before uidmap was installed, or by other tools, have none.
read_def() { awk -v k="$1" '$1==k {print $2}' /etc/login.defs 2>/dev/null | tail -n1; }
uid_min=$(read_def UID_MIN); uid_min=${uid_min:-1000}
uid_max=$(read_def UID_MAX); uid_max=${uid_max:-60000}
sub_count=$(read_def SUB_UID_COUNT); sub_count=${sub_count:-65536}
touch /etc/subuid /etc/subgid
while IFS=: read -r uname _ uid _; do
    [ "$uid" -ge "$uid_min" ] && [ "$uid" -le "$uid_max" ] || continue
    has() { grep -qE "^($uname|$uid):" "$1"; }
    if has /etc/subuid && has /etc/subgid; then continue; fi
    # past every range of both files, so one start serves uids and gids alike
    next=$(awk -F: -v min="$(read_def SUB_UID_MIN)" 'BEGIN{n=(min?min:100000)} NF>=3 && $2+$3>n {n=$2+$3} END{print n}' /etc/subuid /etc/subgid)
    range="$next-$((next + sub_count - 1))"
    has /etc/subuid || usermod --add-subuids "$range" "$uname"
    has /etc/subgid || usermod --add-subgids "$range" "$uname"
    change "gave $uname subordinate ids $range (rootless Podman)"
done </etc/passwd

# Debian's containers-storage leaves the driver unset, and rootless Podman then picks vfs,
# which copies a whole image per container. Overlay is native for rootless users since Linux
# 5.13. Root's storage already records overlay, so this changes nothing for root. Written
# only where there is no storage.conf: an admin's choices stay theirs.
STORAGE_CONF=/etc/containers/storage.conf
STORAGE_MARK="# Written by tmpl scripts/setup.sh: rootless Podman on overlay, not vfs"
if [ ! -e "$STORAGE_CONF" ]; then
    mkdir -p "$(dirname "$STORAGE_CONF")"
    # once the file exists its runroot and graphroot are required (Podman refuses to start
    # without them) and they are root's: the defaults root's storage is already in. Rootless
    # Podman takes only the driver from here and keeps its storage in the person's home.
    printf '%s\n[storage]\ndriver = "overlay"\nrunroot = "/run/containers/storage"\ngraphroot = "/var/lib/containers/storage"\n' \
        "$STORAGE_MARK" >"$STORAGE_CONF.tmp" && mv "$STORAGE_CONF.tmp" "$STORAGE_CONF"
    change "wrote $STORAGE_CONF: rootless Podman uses overlay instead of vfs"
elif head -n1 "$STORAGE_CONF" | grep -qF "$STORAGE_MARK"; then
    say "podman: $STORAGE_CONF is tmpl's"
else
    say "podman: $STORAGE_CONF is the admin's; leaving it"
fi

# ---------------------------------------------------------------------------------------------
# 3. Daemons
# ---------------------------------------------------------------------------------------------
podman_ping() { curl -sf --max-time 2 --unix-socket "$PODMAN_SOCK" http://d/_ping 2>/dev/null | grep -q OK; }
virsh_ok() { "${VIRSH[@]}" version >/dev/null 2>&1; }

if [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ]; then
    step_t=$(date +%s.%N)
    if ! systemctl is-enabled -q libvirtd virtlogd podman.socket 2>/dev/null \
       || ! systemctl is-active -q libvirtd virtlogd podman.socket 2>/dev/null; then
        systemctl enable --now libvirtd virtlogd podman.socket
        change "enabled and started libvirtd virtlogd podman.socket"
    fi
    [ "$podman_conf_changed" = 1 ] && systemctl try-restart podman.service 2>/dev/null || true
    # running VMs outlive libvirtd; it finds them again when it starts
    [ "$libvirt_conf_changed" = 1 ] && systemctl restart libvirtd && change "restarted libvirtd for its socket settings"
    wait_for 60 libvirtd virsh_ok || die "libvirtd does not answer (virsh -c qemu:///system version)"
    wait_for 30 podman podman_ping || die "Podman API does not answer on $PODMAN_SOCK"
    say "daemons: libvirtd and Podman API answer ($(elapsed "$step_t"))"
else
    step_t=$(date +%s.%N)
    # Long-lived daemons start in `/` with no inherited pipes or terminal: they outlive this
    # script, and a folder they hold (a clone that CI deletes) would break their children.
    if ! pgrep -x virtlogd >/dev/null; then
        (cd / && exec virtlogd -d </dev/null >/dev/null 2>&1)
        change "started virtlogd"
    fi
    # running VMs outlive libvirtd; it finds them again when it starts
    if [ "$libvirt_conf_changed" = 1 ] && lvpid=$(pgrep -x libvirtd); then
        kill "$lvpid"
        wait_for 30 libvirtd-exit sh -c "! kill -0 $lvpid" || die "libvirtd (pid $lvpid) did not stop to reload $LIBVIRTD_CONF"
        change "stopped libvirtd (pid $lvpid) to reload its socket settings"
    fi
    if ! pgrep -x libvirtd >/dev/null; then
        (cd / && exec libvirtd -d </dev/null >/dev/null 2>&1)
        change "started libvirtd"
    fi
    wait_for 60 libvirtd virsh_ok || die "libvirtd does not answer (virsh -c qemu:///system version) after 60s"

    # Restart the API service only if we started it and its config changed.
    if [ "$podman_conf_changed" = 1 ] && [ -s "$PODMAN_PIDFILE" ]; then
        oldpid=$(cat "$PODMAN_PIDFILE")
        if kill -0 "$oldpid" 2>/dev/null && tr '\0' ' ' <"/proc/$oldpid/cmdline" 2>/dev/null | grep -q 'podman system service'; then
            kill "$oldpid"; wait_for 10 stop sh -c "! kill -0 $oldpid" || true
            change "stopped Podman API service (pid $oldpid) to reload its configuration"
        fi
        rm -f "$PODMAN_PIDFILE"
    fi
    our_service_alive() {
        local pid; pid=$(cat "$PODMAN_PIDFILE" 2>/dev/null) || return 1
        [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null &&
            tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'podman system service'
    }
    if ! podman_ping; then
        if ! our_service_alive; then
            mkdir -p "$(dirname "$PODMAN_SOCK")"
            [ -S "$PODMAN_SOCK" ] && rm -f "$PODMAN_SOCK"   # stale socket, nothing answers
            # conmon, which runs every container, inherits the service's folder: `/`
            (cd / && exec setsid podman system service --time=0 "unix://$PODMAN_SOCK" \
                >"$PODMAN_LOG" 2>&1 </dev/null) &
            echo $! >"$PODMAN_PIDFILE"
            change "started Podman API service on $PODMAN_SOCK (pid $!, log $PODMAN_LOG)"
        fi
        wait_for 30 podman podman_ping || { tail -n 20 "$PODMAN_LOG" >&2 || true; die "Podman API does not answer on $PODMAN_SOCK after 30s"; }
    fi
    say "daemons: libvirtd and Podman API answer ($(elapsed "$step_t"))"
fi

# ---------------------------------------------------------------------------------------------
# 4. libvirt default network and storage pool
# ---------------------------------------------------------------------------------------------
if ! "${VIRSH[@]}" net-info default >/dev/null 2>&1; then
    [ -r /usr/share/libvirt/networks/default.xml ] || die "no /usr/share/libvirt/networks/default.xml to define the default network from"
    "${VIRSH[@]}" net-define /usr/share/libvirt/networks/default.xml >/dev/null
    change "defined libvirt network 'default'"
fi
net_info=$("${VIRSH[@]}" net-info default)
if ! grep -Eq '^Active:[[:space:]]+yes' <<<"$net_info"; then
    "${VIRSH[@]}" net-start default >/dev/null || die "could not start libvirt network 'default'"
    change "started libvirt network 'default'"
fi
if ! grep -Eq '^Autostart:[[:space:]]+yes' <<<"$net_info"; then
    "${VIRSH[@]}" net-autostart default >/dev/null
    change "set libvirt network 'default' to autostart"
fi

if ! "${VIRSH[@]}" pool-info default >/dev/null 2>&1; then
    "${VIRSH[@]}" pool-define-as default dir --target /var/lib/libvirt/images >/dev/null
    "${VIRSH[@]}" pool-build default >/dev/null 2>&1 || true
    change "defined libvirt storage pool 'default' (/var/lib/libvirt/images)"
fi
pool_info=$("${VIRSH[@]}" pool-info default)
if ! grep -Eq '^State:[[:space:]]+running' <<<"$pool_info"; then
    "${VIRSH[@]}" pool-build default >/dev/null 2>&1 || true
    "${VIRSH[@]}" pool-start default >/dev/null || die "could not start libvirt storage pool 'default'"
    change "started libvirt storage pool 'default'"
fi
if ! grep -Eq '^Autostart:[[:space:]]+yes' <<<"$pool_info"; then
    "${VIRSH[@]}" pool-autostart default >/dev/null
    change "set libvirt storage pool 'default' to autostart"
fi
say "libvirt: network 'default' and pool 'default' active"

# ---------------------------------------------------------------------------------------------
# 5. Smoke test: Podman can run a container under this configuration (no image needed)
# ---------------------------------------------------------------------------------------------
smoke=$(mktemp -d /var/tmp/tmpl-setup-smoke.XXXXXX)
trap 'rm -rf --one-file-system "$smoke"' EXIT
mkdir -p "$smoke/bin"
cp /bin/true "$smoke/bin/true"
for lib in $(ldd /bin/true | grep -o '/[^ ]*'); do
    mkdir -p "$smoke$(dirname "$lib")"; cp -L "$lib" "$smoke$lib"
done
if ! out=$(podman run --rm --network none --rootfs "$smoke" /bin/true 2>&1); then
    printf '%s\n' "$out" >&2
    die "podman cannot run a container on this host (see the error above)"
fi
say "podman: test container ran"

# ---------------------------------------------------------------------------------------------
say "summary: ${#CHANGES[@]} change(s) in $(elapsed "$T0")"
for c in "${CHANGES[@]}"; do say "  - $c"; done
say "  libvirt: $("${VIRSH[@]}" version 2>/dev/null | grep -i 'running hypervisor' | sed 's/.*: *//' || true)," \
    "podman $(podman version --format '{{.Server.Version}}' 2>/dev/null || echo '?')" \
    "($(podman info --format '{{.Host.OCIRuntime.Name}}' 2>/dev/null)), vagrant $(vagrant --version 2>/dev/null | awk '{print $2}')"
say "  Podman API: unix://$PODMAN_SOCK (DOCKER_HOST=unix://$PODMAN_SOCK)"
