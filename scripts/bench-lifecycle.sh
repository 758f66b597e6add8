#!/usr/bin/env bash
# The VM lifecycle, tmpl next to plain Vagrant on the same box, in one run: up from nothing,
# stop, up from stopped, rm/destroy. One after the other, so both see the same host load.
#
#   scripts/bench-lifecycle.sh            (needs `make setup fixtures`; ~5-10 min under TCG)
set -euo pipefail
cd "$(dirname "$0")/.."
export TMPL_LIBVIRT_DRIVER=${TMPL_LIBVIRT_DRIVER:-qemu} NO_COLOR=1
cargo build --release -q
tmpl=$PWD/target/release/tmpl
work=$(mktemp -d /tmp/tmpl-lifecycle.XXXXXX)
export XDG_CACHE_HOME=$work/xdg/cache XDG_STATE_HOME=$work/xdg/state XDG_CONFIG_HOME=$work/xdg/config
mkdir -p "$work/tmplvm" "$work/plain"
printf 'INFRA_TYPE=vm\nMEMORY=1024\nCPUS=2\nDISK=4\nIMAGE=tmpl-test/debian12\n' >"$work/tmplvm/.env"
cat >"$work/plain/Vagrantfile" <<VF
Vagrant.configure('2') do |config|
  config.vm.box = 'tmpl-test/debian12'
  config.vm.synced_folder '.', '/vagrant', disabled: true
  config.vm.provider 'libvirt' do |lv|
    lv.driver = '$TMPL_LIBVIRT_DRIVER'
    lv.default_prefix = 'tmplbench-'
    lv.memory = 1024
    lv.cpus = 2
    lv.machine_virtual_size = 4
    lv.management_network_keep = true
  end
end
VF
plain() { (cd "$work/plain" && VAGRANT_CHECKPOINT_DISABLE=1 VAGRANT_BOX_UPDATE_CHECK_DISABLE=1 vagrant "$@"); }
cleanup() {
  "$tmpl" -q -C "$work/tmplvm" rm -f >/dev/null 2>&1 || true
  plain destroy -f >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
secs() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1; e=$(date +%s%N); awk -v d=$((e - s)) 'BEGIN {printf "%.1f", d/1e9}'; }

echo "tmpl..." >&2
t_up=$(secs "$tmpl" -C "$work/tmplvm" up)
t_stop=$(secs "$tmpl" -C "$work/tmplvm" stop)
t_up2=$(secs "$tmpl" -C "$work/tmplvm" up)
t_rm=$(secs "$tmpl" -C "$work/tmplvm" rm -f)
echo "plain vagrant..." >&2
v_up=$(secs plain up --provider=libvirt)
v_stop=$(secs plain halt)
v_up2=$(secs plain up)
v_rm=$(secs plain destroy -f)

echo
echo "Machine: $(nproc) CPUs, $(free -g | awk '/Mem:/ {print $2}') GiB, libvirt driver $TMPL_LIBVIRT_DRIVER, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| step | tmpl | plain Vagrant |"
echo "|---|---|---|"
echo "| up from nothing (box) | ${t_up} s | ${v_up} s |"
echo "| stop | ${t_stop} s | ${v_stop} s (halt) |"
echo "| up of a stopped VM | ${t_up2} s | ${v_up2} s |"
echo "| rm | ${t_rm} s | ${v_rm} s (destroy -f) |"
echo
echo "tmpl's up from nothing includes growing the root filesystem to DISK and writing the SSH config; Vagrant's does neither."
