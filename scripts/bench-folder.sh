#!/usr/bin/env bash
# What serving the project folder through tmpl's file server costs (issue 27), before and
# after, side by side in one run: the same project (a committed 10,000-file git tree) under
# BEFORE, an older build of tmpl that shared the folder directly, and under this build, in a
# container and in a VM. Measured: `tmpl up` on the running guest, `tmpl ssh -- true` (median
# of RUNS), and in the guest, as root: `git status` of the tree (median of 5 after one to warm
# up) and creating 2,000 small files (median of 3).
#
# Everything stays on this machine (the fixtures' image and box; no network is used), and is
# removed at the end. Needs root and `make setup fixtures`.
#
#   BEFORE=/path/to/old/tmpl [AFTER=/path/to/new/tmpl] [KINDS="container vm"] \
#     scripts/bench-folder.sh [RUNS]  (5)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
before=${BEFORE:?set BEFORE to an older build of tmpl (e.g. of the commit before the change)}
kinds=${KINDS:-container vm}
export NO_COLOR=1
after=${AFTER:-}
if [ -z "$after" ]; then cargo build --release -q; after=$PWD/target/release/tmpl; fi
work=$(mktemp -d /tmp/tmpl-bench-folder.XXXXXX)
export XDG_CACHE_HOME=$work/xdg/cache XDG_STATE_HOME=$work/xdg/state XDG_CONFIG_HOME=$work/xdg/config
made=()
cleanup() {
  for m in "${made[@]}"; do "${m%%:*}" -q -C "${m#*:}" rm -f >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# the measurements in the guest; $1 is the project folder
cat >"$work/guest-bench.sh" <<'SH'
d=$1
now() { date +%s%N; }
med() { sort -n | awk '{a[NR]=$1} END {printf "%.3f\n", a[int((NR+1)/2)] / 1e9}'; }
G="git -c safe.directory=* -C $d"
$G status --porcelain >/dev/null
for i in 1 2 3 4 5; do
  t0=$(now); $G status --porcelain >/dev/null; t1=$(now); echo $((t1 - t0))
done | med | sed 's/^/git_status /'
for r in 1 2 3; do
  w=$d/bench-$r; mkdir "$w"
  t0=$(now); i=0; while [ $i -lt 2000 ]; do echo "x $i" >"$w/f$i"; i=$((i + 1)); done; t1=$(now)
  rm -rf "$w"; echo $((t1 - t0))
done | med | sed 's/^/create_2000 /'
SH

# a committed 10,000-file tree, made once and copied for each guest
tree=$work/tree
mkdir -p "$tree"
(
  cd "$tree"
  git init -q -b main .
  # no gc in the background while the tree is copied below
  git config gc.auto 0
  for i in $(seq 0 99); do
    mkdir "d$i"
    for j in $(seq 0 99); do echo "file $i $j" >"d$i/f$j.txt"; done
  done
  cp "$work/guest-bench.sh" .bench.sh
  git add -A
  git -c user.name=bench -c user.email=bench@example.invalid commit -qm tree
)

# shellcheck source=scripts/lib/median.sh
source scripts/lib/median.sh

declare -A res
for kind in $kinds; do
  case $kind in
    container) env='INFRA_TYPE=container\nMEMORY=512\nCPUS=1\nDISK=2\nIMAGE=localhost/tmpl-test/debian12\n' sudo= ;;
    vm) env='INFRA_TYPE=vm\nMEMORY=1024\nCPUS=1\nDISK=5\nIMAGE=tmpl-test/debian12\n' sudo=sudo ;;
    *) echo "bench-folder: unknown kind $kind (container, vm)" >&2; exit 2 ;;
  esac
  for b in before after; do
    bin=${!b} dir=$work/$kind-$b
    cp -a "$tree" "$dir"
    # shellcheck disable=SC2059
    printf "$env" >"$dir/.env"
    "$bin" -q -C "$dir" trust >/dev/null
    made+=("$bin:$dir")
    echo "bench-folder: $kind, $b: up" >&2
    "$bin" -q -C "$dir" up >/dev/null
    res[$kind.$b.up]=$(median_ms "$runs" "$bin" -q -C "$dir" up)
    res[$kind.$b.ssh]=$(median_ms "$runs" "$bin" -C "$dir" ssh -- true)
    while read -r k v; do res[$kind.$b.$k]=$v; done < <("$bin" -C "$dir" ssh -- $sudo sh "$dir/.bench.sh" "$dir")
    "$bin" -q -C "$dir" rm -f >/dev/null 2>&1
  done
done

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg), median of $runs"
echo "before: $before; after: $after"
echo
echo "| | before | after |"
echo "|---|---|---|"
for kind in $kinds; do
  echo "| $kind: \`tmpl up\` on the running guest | ${res[$kind.before.up]} ms | ${res[$kind.after.up]} ms |"
  echo "| $kind: \`tmpl ssh -- true\` | ${res[$kind.before.ssh]} ms | ${res[$kind.after.ssh]} ms |"
  echo "| $kind: \`git status\`, 10,000 files, in the guest | ${res[$kind.before.git_status]} s | ${res[$kind.after.git_status]} s |"
  echo "| $kind: create 2,000 files in the guest | ${res[$kind.before.create_2000]} s | ${res[$kind.after.create_2000]} s |"
done
