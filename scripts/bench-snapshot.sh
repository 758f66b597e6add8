#!/usr/bin/env bash
# Snapshots, side by side in one run: tmpl's container save and restore (the test image),
# and on one VM (the tmpl-test/debian12 box, running) tmpl's save and restore next to
# `vagrant snapshot save` / `vagrant snapshot restore` of the same VM. The VM has no shared
# folder (SYNC=none): with virtiofs, `vagrant snapshot save` fails (libvirt will not save the
# memory of a domain with a vhost-user-fs device), while tmpl's works either way.
#
#   scripts/bench-snapshot.sh [RUNS]     (default 5, for the container; the VM runs once)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
export TMPL_LIBVIRT_DRIVER=${TMPL_LIBVIRT_DRIVER:-qemu} NO_COLOR=1
cargo build --release -q
tmpl=$PWD/target/release/tmpl
work=$(mktemp -d /tmp/tmpl-bench-snap.XXXXXX)
export XDG_CACHE_HOME=$work/xdg/cache XDG_STATE_HOME=$work/xdg/state XDG_CONFIG_HOME=$work/xdg/config
ct=$work/snapct vm=$work/snapvm
mkdir -p "$ct" "$vm"
printf 'INFRA_TYPE=container\nMEMORY=512\nCPUS=1\nDISK=2\nIMAGE=localhost/tmpl-test/debian12\n' >"$ct/.env"
printf 'INFRA_TYPE=vm\nMEMORY=768\nCPUS=1\nDISK=5\nIMAGE=tmpl-test/debian12\nSYNC=none\n' >"$vm/.env"
cleanup() {
  "$tmpl" -q -C "$ct" rm -f >/dev/null 2>&1 || true
  "$tmpl" -q -C "$vm" rm -f >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

secs() { # seconds "$@" takes, with its exit code after a slash when it failed
  local s e rc=0
  s=$(date +%s%N)
  "$@" >/dev/null 2>&1 </dev/null || rc=$?
  e=$(date +%s%N)
  if [ "$rc" = 0 ]; then awk -v d=$((e - s)) 'BEGIN {printf "%.2f s", d / 1e9}'
  else awk -v d=$((e - s)) -v rc="$rc" 'BEGIN {printf "%.2f s (failed, exit %d)", d / 1e9, rc}'; fi
}
median() { sort -n | awk '{a[NR]=$1} END {printf "%.2f s", (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }

for p in "$ct" "$vm"; do "$tmpl" -q -C "$p" trust >/dev/null; "$tmpl" -q -C "$p" up >/dev/null; done
saves=() restores=()
for i in $(seq "$runs"); do
  saves+=("$(secs "$tmpl" -q -C "$ct" snapshot save "s$i" | cut -d' ' -f1)")
  restores+=("$(secs "$tmpl" -q -C "$ct" snapshot restore "s$i" | cut -d' ' -f1)")
done
ct_save=$(printf '%s\n' "${saves[@]}" | median)
ct_restore=$(printf '%s\n' "${restores[@]}" | median)

vm_save=$(secs "$tmpl" -q -C "$vm" snapshot save one)
vm_restore=$(secs "$tmpl" -q -C "$vm" snapshot restore one)
vg_save=$(secs "$tmpl" -q -C "$vm" vagrant -- snapshot save vone)
vg_restore=$(secs "$tmpl" -q -C "$vm" vagrant -- snapshot restore --no-provision vone)

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r), libvirt driver ${TMPL_LIBVIRT_DRIVER}"
echo
echo "| snapshot | tmpl | the tool underneath |"
echo "|---|---|---|"
echo "| container save (median of $runs) | $ct_save | |"
echo "| container restore (median of $runs) | $ct_restore | |"
echo "| VM save, running, 768 MiB | $vm_save | \`vagrant snapshot save\`: $vg_save |"
echo "| VM restore, back to running | $vm_restore | \`vagrant snapshot restore\`: $vg_restore |"
