#!/usr/bin/env bash
# Measures `tmpl validate` on a valid .env: median wall time of N runs of the release binary.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
n=${1:-50}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
printf 'INFRA_TYPE=vm\nMEMORY=2048\nCPUS=2\nDISK=20\nPORTS=8080:80,8443:443\nFIXED_IP=192.168.56.10\n' >"$dir/.env"
times=()
for _ in $(seq "$n"); do
  s=$(date +%s%N)
  target/release/tmpl -q -C "$dir" validate
  e=$(date +%s%N)
  times+=($(( (e - s) / 1000 )))
done
printf '%s\n' "${times[@]}" | sort -n | awk -v n="$n" '{a[NR]=$1} END {printf "tmpl validate: median %.2f ms, max %.2f ms over %d runs\n", a[int((n+1)/2)]/1000, a[n]/1000, n}'
