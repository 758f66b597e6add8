# shellcheck shell=bash
# Sourced by the bench scripts: `median_ms N CMD...` runs CMD N times (output discarded,
# failures ignored) and prints the median wall time in milliseconds, to 0.1 ms.
median_ms() {
  local n=$1; shift
  local t=()
  for _ in $(seq "$n"); do
    local s e
    s=$(date +%s%N)
    "$@" >/dev/null 2>&1 </dev/null || true
    e=$(date +%s%N)
    t+=($(((e - s) / 1000)))
  done
  printf '%s\n' "${t[@]}" | sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.1f", m/1000}'
}
