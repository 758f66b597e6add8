#!/usr/bin/env bash
# What the network fence costs: one container with EGRESS=internet (fenced) and the same
# with EGRESS=open (no fence), in one run: `tmpl up` on the running guest (which re-asserts
# the fence), `tmpl ssh -- true`, and TCP throughput from the guest to an allowed address.
#
# The allowed address is a network namespace this script makes (203.0.113.0/24, a
# documentation range, no default route), with a sink that reads and discards; nothing leaves
# the machine. Everything is removed at the end. Needs root and `make setup fixtures`.
#
#   scripts/bench-fence.sh [RUNS]          (default 10)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}
export NO_COLOR=1
cargo build --release -q
tmpl=$PWD/target/release/tmpl
work=$(mktemp -d /tmp/tmpl-bench-fence.XXXXXX)
export XDG_CACHE_HOME=$work/xdg/cache XDG_STATE_HOME=$work/xdg/state XDG_CONFIG_HOME=$work/xdg/config
ct=$work/fencebench
mkdir -p "$ct"
ns=tmplbf-inet veth=tmplbfi0
sink_pid=
cleanup() {
  "$tmpl" -q -C "$ct" rm -f >/dev/null 2>&1 || true
  [ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  ip link del "$veth" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ip netns del "$ns" 2>/dev/null || true
ip link del "$veth" 2>/dev/null || true
ip netns add "$ns"
ip link add "$veth" type veth peer name eth0 netns "$ns"
ip addr add 203.0.113.1/24 dev "$veth" && ip link set "$veth" up
ip -n "$ns" addr add 203.0.113.2/24 dev eth0 && ip -n "$ns" link set eth0 up
ip netns exec "$ns" python3 -c '
import socket, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("203.0.113.2", 9100)); s.listen(8)
def drain(c):
    while c.recv(1 << 20): pass
    c.close()
while True:
    c, _ = s.accept(); threading.Thread(target=drain, args=(c,)).start()
' &
sink_pid=$!
sleep 0.5

median_ms() {
  local t=()
  for _ in $(seq "$runs"); do
    local s e
    s=$(date +%s%N)
    "$@" >/dev/null 2>&1 </dev/null || true
    e=$(date +%s%N)
    t+=($(((e - s) / 1000)))
  done
  printf '%s\n' "${t[@]}" | sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.1f", m/1000}'
}

# MB/s of 512 MiB sent from the guest to the sink, best of three
throughput() {
  local best=0
  for _ in 1 2 3; do
    local v
    v=$("$tmpl" -C "$ct" ssh -- python3 -c '
import socket, time
s = socket.create_connection(("203.0.113.2", 9100)); b = b"x" * (1 << 20)
t = time.time()
for _ in range(512): s.sendall(b)
s.close(); print(int(512 / (time.time() - t)))')
    [ "$v" -gt "$best" ] && best=$v
  done
  echo "$best"
}

declare -A up ssh tp
for egress in internet open; do
  printf 'INFRA_TYPE=container\nMEMORY=512\nCPUS=1\nDISK=2\nIMAGE=localhost/tmpl-test/debian12\nSYNC=none\nEGRESS=%s\n' "$egress" >"$ct/.env"
  "$tmpl" -q -C "$ct" trust >/dev/null
  "$tmpl" -q -C "$ct" up >/dev/null
  up[$egress]=$(median_ms "$tmpl" -q -C "$ct" up)
  ssh[$egress]=$(median_ms "$tmpl" -C "$ct" ssh -- true)
  tp[$egress]=$(throughput)
done

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r), median of $runs"
echo
echo "| container | fenced (\`EGRESS=internet\`) | no fence (\`EGRESS=open\`) |"
echo "|---|---|---|"
echo "| \`tmpl up\` on the running guest (re-asserts the fence) | ${up[internet]} ms | ${up[open]} ms |"
echo "| \`tmpl ssh -- true\` | ${ssh[internet]} ms | ${ssh[open]} ms |"
echo "| TCP from the guest to an allowed address | ${tp[internet]} MB/s | ${tp[open]} MB/s |"
