#!/usr/bin/env bash
# tmpl against Vagrant and Podman, side by side on the same guests, in one run.
#
# Brings up one VM (the tmpl-test/debian12 box) and one container (the tmpl-test image) in
# temporary project folders, times each pair of commands N times, prints medians and ratios
# as a Markdown table, and removes everything it made. Needs `make setup fixtures`.
#
#   scripts/bench.sh [RUNS]          (default 10)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}
export TMPL_LIBVIRT_DRIVER=${TMPL_LIBVIRT_DRIVER:-qemu} NO_COLOR=1
cargo build --release -q
tmpl=${CARGO_TARGET_DIR:-$PWD/target}/release/tmpl
work=$(mktemp -d /tmp/tmpl-bench.XXXXXX)
export XDG_CACHE_HOME=$work/xdg/cache XDG_STATE_HOME=$work/xdg/state XDG_CONFIG_HOME=$work/xdg/config
vm=$work/benchvm ct=$work/benchct
mkdir -p "$vm" "$ct"
printf 'INFRA_TYPE=vm\nMEMORY=1024\nCPUS=2\nDISK=4\nIMAGE=tmpl-test/debian12\n' >"$vm/.env"
printf 'INFRA_TYPE=container\nMEMORY=512\nCPUS=1\nDISK=2\nIMAGE=localhost/tmpl-test/debian12\n' >"$ct/.env"
cleanup() {
  "$tmpl" -q -C "$vm" rm -f >/dev/null 2>&1 || true
  "$tmpl" -q -C "$ct" rm -f >/dev/null 2>&1 || true
  podman rm -f -t 0 tmpl-bench-podman-run >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# median wall time in ms of running "$@" $runs times (output discarded); $prep, when set,
# runs untimed before each run
prep=:
median() {
  local t=()
  for _ in $(seq "$runs"); do
    local s e
    $prep >/dev/null 2>&1 || true
    s=$(date +%s%N)
    "$@" >/dev/null 2>&1 </dev/null || true
    e=$(date +%s%N)
    t+=($(((e - s) / 1000)))
  done
  printf '%s\n' "${t[@]}" | sort -n | awk -v n="$runs" '{a[NR]=$1} END {printf "%.1f", a[int((n+1)/2)]/1000}'
}
rows=()
row() { # label, tmpl ms, other label, other ms
  rows+=("| $1 | $2 ms | $3 | $4 ms | $(awk -v a="$4" -v b="$2" 'BEGIN {printf "%.1f× / %.2f×", a/b, b/a}') |")
}

echo "bringing up a VM and a container (a VM boot takes a minute or more under emulation)..." >&2
"$tmpl" -q -C "$vm" up
"$tmpl" -q -C "$ct" up
vjson=$("$tmpl" -C "$vm" status --json)
vslug=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["slug"])' <<<"$vjson")
vagrant_env=(env VAGRANT_CWD="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["vagrant_cwd"])' <<<"$vjson")"
  VAGRANT_DOTFILE_PATH="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["vagrant_dotfile_path"])' <<<"$vjson")"
  VAGRANT_CHECKPOINT_DISABLE=1 VAGRANT_BOX_UPDATE_CHECK_DISABLE=1)
vcfg=$XDG_STATE_HOME/tmpl/$vslug/ssh/config
cslug=$("$tmpl" -C "$ct" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["slug"])')
ccfg=$XDG_STATE_HOME/tmpl/$cslug/ssh/config

echo "measuring, $runs runs each..." >&2
row "VM: \`tmpl status\`" "$(median "$tmpl" -C "$vm" status)" "\`vagrant status\`" "$(median "${vagrant_env[@]}" vagrant status)"
row "VM: \`tmpl ssh -- true\`" "$(median "$tmpl" -C "$vm" ssh -- true)" "\`vagrant ssh -c true\`" "$(median "${vagrant_env[@]}" vagrant ssh -c true)"
row "VM: \`tmpl ssh -- true\`" "$(median "$tmpl" -C "$vm" ssh -- true)" "plain \`ssh -F config host true\`" "$(median ssh -F "$vcfg" "tmpl-$vslug" true)"
row "VM: \`tmpl up\` (running)" "$(median "$tmpl" -C "$vm" up)" "\`vagrant up\` (running)" "$(median "${vagrant_env[@]}" vagrant up --no-provision)"
row "container: \`tmpl ssh -- true\`" "$(median "$tmpl" -C "$ct" ssh -- true)" "plain \`ssh -F config host true\`" "$(median ssh -F "$ccfg" "tmpl-$cslug" true)"
row "container: \`tmpl status\`" "$(median "$tmpl" -C "$ct" status)" "\`podman inspect\`" "$(median podman inspect "tmpl-$cslug")"
# container creation from nothing, image present: tmpl up (created, started, SSH answering)
# vs podman run -d (started); removal happens untimed before each run
prep="$tmpl -q -C $ct rm -f"
t_up=$(median "$tmpl" -q -C "$ct" up)
prep="podman rm -f -t 0 tmpl-bench-podman-run"
t_run=$(median podman run -d --name tmpl-bench-podman-run localhost/tmpl-test/debian12 sleep 600)
prep=:
row "container: \`tmpl up\` from nothing (image present, SSH ready)" "$t_up" "\`podman run -d\`" "$t_run"

echo
echo "Machine: $(nproc) CPUs, $(free -g | awk '/Mem:/ {print $2}') GiB, $(. /etc/os-release; echo "$PRETTY_NAME"), libvirt driver ${TMPL_LIBVIRT_DRIVER}; median of $runs runs"
echo
echo "| tmpl | median | compared with | median | other ÷ tmpl / tmpl ÷ other |"
echo "|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
