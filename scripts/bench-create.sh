#!/usr/bin/env bash
# Creating guests, tmpl next to the tool underneath, interleaved in one run (issue 15's targets):
#   - container `up` from nothing to SSH answering   vs `podman run -d` of the same image
#   - container `up` of a stopped guest, `stop`, `rm` vs `podman start`, `podman stop`, `podman rm -f`
#   - VM `up` from a box (1 GiB, 1 CPU, 8 GiB disk, no shared folder), up of the stopped VM,
#     `stop`, `rm` vs a plain Vagrantfile's `vagrant up`, `halt`, `up`, `destroy -f`
#   - VM `up` from a cloud image vs the specification's routine by hand: a `qemu-img` overlay,
#     a NoCloud seed made with `xorriso`, `virt-install --import`, waiting for sshd
# Prints a Markdown table with ratios (tmpl ÷ other). Needs `make setup fixtures`.
#
#   scripts/bench-create.sh [RUNS]      RUNS for containers (default 5); VMs run VM_RUNS (1)
#   BENCH_ONLY=container                skips the VM rows (a VM boot is a minute under TCG)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
vm_runs=${VM_RUNS:-1}
export TMPL_LIBVIRT_DRIVER=${TMPL_LIBVIRT_DRIVER:-qemu} NO_COLOR=1
cargo build --release -q
tmpl=${CARGO_TARGET_DIR:-$PWD/target}/release/tmpl
image=localhost/tmpl-test/debian12
work=$(mktemp -d /tmp/tmpl-bench-create.XXXXXX)
export XDG_CACHE_HOME=$work/xdg/cache XDG_STATE_HOME=$work/xdg/state XDG_CONFIG_HOME=$work/xdg/config
ct=$work/ct vm=$work/vm plain=$work/plain
mkdir -p "$ct" "$vm" "$plain"
printf 'INFRA_TYPE=container\nMEMORY=512\nCPUS=1\nDISK=2\nIMAGE=%s\nSYNC=none\n' "$image" >"$ct/.env"
printf 'INFRA_TYPE=vm\nMEMORY=1024\nCPUS=1\nDISK=8\nIMAGE=tmpl-test/debian12\nSYNC=none\n' >"$vm/.env"
cat >"$plain/Vagrantfile" <<VF
Vagrant.configure('2') do |config|
  config.vm.box = 'tmpl-test/debian12'
  config.vm.synced_folder '.', '/vagrant', disabled: true
  config.vm.provider 'libvirt' do |lv|
    lv.driver = '$TMPL_LIBVIRT_DRIVER'
    lv.default_prefix = 'tmplbench-'
    lv.memory = 1024
    lv.cpus = 1
    lv.machine_virtual_size = 8
  end
end
VF
pname="tmpl-bench-create"
plain_vagrant() { (cd "$plain" && VAGRANT_CHECKPOINT_DISABLE=1 VAGRANT_BOX_UPDATE_CHECK_DISABLE=1 vagrant "$@"); }
cleanup() {
  "$tmpl" -q -C "$ct" rm -f >/dev/null 2>&1 || true
  "$tmpl" -q -C "$vm" rm -f >/dev/null 2>&1 || true
  "$tmpl" -q -C "$work/cloud" rm -f >/dev/null 2>&1 || true
  [ "$(type -t hand_cleanup)" != function ] || hand_cleanup
  plain_vagrant destroy -f >/dev/null 2>&1 || true
  podman rm -f -t 0 "$pname" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
"$tmpl" -q -C "$ct" trust >/dev/null
"$tmpl" -q -C "$vm" trust >/dev/null

# A step that fails is still timed, but the run ends in an error naming it: a fast failure
# must not pass for a fast step.
ms() {
  local s e; s=$(date +%s%N)
  "$@" >/dev/null 2>&1 </dev/null || echo "$*" >>"$work/failed"
  e=$(date +%s%N); echo $(((e - s) / 1000000))
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# `podman run -d` ends when the container runs; tmpl's up when SSH answers. For a fair row the
# plain run also waits for its sshd's greeting, the way tmpl does (a TCP connect every 10 ms until one
# is accepted, then up to 10 s for the greeting).
greeting() { # port [host]; bash's own /dev/tcp, so no process starts per try (as in tmpl)
  local end=$((SECONDS + 120)) g
  while ((SECONDS < end)); do
    if { exec 3<>"/dev/tcp/${2:-127.0.0.1}/$1"; } 2>/dev/null; then
      g=
      read -r -t 10 -N 4 -u 3 g || true # patient, as tmpl is: a busy guest greets late
      exec 3<&-
      [ "$g" = SSH- ] && return 0
    fi
    sleep 0.01
  done
  return 1
}
# The plain container runs tmpl's own entrypoint with keys made once, before any timing, and
# handed in the same way (env): the same image, limits, sshd and key handling, so the row
# measures what tmpl adds, not an `ssh-keygen -A` that tmpl no longer runs.
ssh-keygen -q -t ed25519 -N '' -C bench-client -f "$work/client"
ssh-keygen -q -t ed25519 -N '' -C bench-host -f "$work/host"
plain_run() {
  podman run -d --name "$pname" --memory 512m --cpus 1 -p 127.0.0.1:18955:22 \
    -e TMPL_AUTHORIZED_KEY="$(cat "$work/client.pub")" -e TMPL_HOST_KEY="$(cat "$work/host")" \
    "$image" /bin/sh -c "$(cat src/backend/podman/entrypoint.sh)" >/dev/null
  greeting 18955
}

plain_start() { podman start "$pname" >/dev/null && greeting 18955; }
spec_name() { "$tmpl" -C "$ct" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["container"])'; }
own_start() { podman start "$1" >/dev/null && greeting "$2"; } # container, SSH port

declare -A t
add() { t[$1]="${t[$1]:-} $2"; }
echo "containers, $runs interleaved rounds..." >&2
for _ in $(seq "$runs"); do
  add up_new "$(ms "$tmpl" -q -C "$ct" up)"
  add bare "$(ms podman run -d --name "$pname" --memory 512m --cpus 1 "$image" sleep 600)"
  podman rm -f -t 0 "$pname" >/dev/null 2>&1
  add run "$(ms plain_run)"
  add stop "$(ms "$tmpl" -q -C "$ct" stop)"
  add pstop "$(ms podman stop "$pname")"
  add up_stopped "$(ms "$tmpl" -q -C "$ct" up)"
  add pstart "$(ms plain_start)"
  # Podman's own commands on tmpl's container: a plain container differs from it in more than
  # tmpl's work (its own network, published port, dropped capabilities, cpuset), and Podman's
  # stop of tmpl's container alone takes ~100 ms longer here. On the same container the
  # difference is only what tmpl adds.
  own=$("$tmpl" -C "$ct" status --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["container"], d["ssh"]["port"])')
  add sstop "$(ms podman stop "${own% *}")"
  add sstart "$(ms own_start "${own% *}" "${own#* }")"
  add rm "$(ms "$tmpl" -q -C "$ct" rm -f)"
  add prm "$(ms podman rm -f "$pname")"
done
# `podman rm -f` of tmpl's own container, next to `tmpl rm`: Podman leaves the project's
# network, fence and state behind, which an untimed `tmpl rm` then removes
for _ in $(seq "$runs"); do
  "$tmpl" -q -C "$ct" up >/dev/null 2>&1
  add rm2 "$(ms "$tmpl" -q -C "$ct" rm -f)"
  "$tmpl" -q -C "$ct" up >/dev/null 2>&1
  add srm "$(ms podman rm -f "$(spec_name)")"
  "$tmpl" -q -C "$ct" rm -f >/dev/null 2>&1
done
med() { tr ' ' '\n' <<<"${t[$1]}" | grep . | median; }
row() { # label tmpl-key other-label other-key target
  local a b; a=$(med "$2"); b=$(med "$4")
  echo "| $1 | $a ms | $3: $b ms | $(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f×", a/b}') | $5 |"
}
rows=()
rows+=("$(row 'container `up` from nothing to SSH answering' up_new '`podman run -d` (no sshd)' bare '≤ 2.5×')")
rows+=("$(row 'container `up` from nothing to SSH answering' up_new '`podman run -d` of the same entrypoint and keys + its sshd greeting' run '-')")
rows+=("$(row 'container `up` of a stopped guest, SSH answering' up_stopped '`podman start` + greeting' pstart '≤ 1.05×')")
rows+=("$(row 'container `stop`' stop '`podman stop`' pstop '≤ 1.05×')")
rows+=("$(row 'container `up` of a stopped guest, SSH answering' up_stopped '`podman start` of the same container + greeting' sstart '≤ 1.05×')")
rows+=("$(row 'container `stop`' stop '`podman stop` of the same container' sstop '≤ 1.05×')")
rows+=("$(row 'container `rm`' rm '`podman rm -f`' prm '≤ 1.05×')")
rows+=("$(row 'container `rm`' rm2 '`podman rm -f` of the same container' srm '≤ 1.05×')")

if [ "${BENCH_ONLY:-}" != container ]; then
  # shellcheck source=scripts/bench-vm.sh
  . scripts/bench-vm.sh
fi

if [ -s "$work/failed" ]; then
  echo "bench: these steps failed, so their times mean nothing:" >&2
  sort -u "$work/failed" >&2
  exit 1
fi
echo
echo "Machine: $(nproc) CPUs, $(free -g | awk '/Mem:/ {print $2}') GiB, Linux $(uname -r), libvirt driver $TMPL_LIBVIRT_DRIVER; medians of $runs container rounds, $vm_runs VM round(s); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| step | tmpl | the tool underneath | ratio | target |"
echo "|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
