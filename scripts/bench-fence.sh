#!/usr/bin/env bash
# What the network fence costs, before and after a change, side by side in one run: the same
# container (EGRESS=internet, EGRESS_ALLOW=203.0.113.0/24) under this build and under BEFORE,
# an older build of tmpl: `tmpl up` on the running guest (which re-asserts the fence and its
# resolver), `tmpl ssh -- true`, a DNS lookup from the guest (median of 20) and TCP throughput
# from the guest to the allowed address.
#
# The allowed address is a network namespace this script makes (203.0.113.0/24, a
# documentation range, no default route) with a sink that reads and discards, and a stand-in
# resolver (dnsmasq, its own names only). While it runs, a table of its own drops DNS leaving
# the host for anywhere else: nothing leaves the machine. The lookup is the gateway's own
# answer in both builds: before, a container name aardvark-dns answers itself; after, a name
# the guest's resolver forwards to the stand-in. Everything is removed at the end. Needs root
# and `make setup fixtures`.
#
#   BEFORE=/path/to/old/tmpl [AFTER=/path/to/new/tmpl] scripts/bench-fence.sh [RUNS]  (10)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}
before=${BEFORE:?set BEFORE to an older build of tmpl (e.g. of the commit before the change)}
export NO_COLOR=1
# AFTER: this build, unless another is named (compare builds of the same profile)
after=${AFTER:-}
if [ -z "$after" ]; then cargo build --release -q; after=$PWD/target/release/tmpl; fi
work=$(mktemp -d /tmp/tmpl-bench-fence.XXXXXX)
export XDG_CACHE_HOME=$work/xdg/cache XDG_STATE_HOME=$work/xdg/state XDG_CONFIG_HOME=$work/xdg/config
ns=tmplbf-inet veth=tmplbfi0 guard=tmplbf-dnsguard
pids=()
cleanup() {
  for b in before after; do "${!b}" -q -C "$work/$b" rm -f >/dev/null 2>&1 || true; done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  nft delete table inet "$guard" 2>/dev/null || true
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
ip -n "$ns" addr add 203.0.113.2/24 dev eth0 && ip -n "$ns" link set eth0 up && ip -n "$ns" link set lo up
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
pids+=($!)
ip netns exec "$ns" dnsmasq --keep-in-foreground --no-resolv --no-hosts --bind-interfaces \
  --listen-address 203.0.113.2 --user=root --pid-file= --conf-file=/dev/null \
  --host-record=bench.tmpl.test,203.0.113.2,300 >/dev/null 2>&1 &
pids+=($!)
export TMPL_DNS_UPSTREAM=203.0.113.2:53
nft -f - <<NFT
table inet $guard {
  chain sent { type filter hook output priority filter + 50; policy accept;
    oifname "lo" accept
    ip daddr 203.0.113.2 accept
    meta l4proto { tcp, udp } th dport 53 drop
  }
  chain forwarded { type filter hook forward priority filter + 50; policy accept;
    ip daddr 203.0.113.2 accept
    meta l4proto { tcp, udp } th dport 53 drop
  }
}
NFT
sleep 0.5

# shellcheck source=scripts/lib/median.sh
source scripts/lib/median.sh

# one lookup's time in ms, measured in the guest (no ssh in it), median of 20
lookup_ms() {
  "$1" -C "$2" ssh -- python3 -c "
import socket, time
t = []
for _ in range(20):
    s = time.perf_counter()
    try: socket.gethostbyname('$3')
    except OSError: pass
    t.append((time.perf_counter() - s) * 1000)
t.sort(); print('%.2f' % ((t[9] + t[10]) / 2))"
}

# MB/s of 512 MiB sent from the guest to the sink, best of three
throughput() {
  local best=0
  for _ in 1 2 3; do
    local v
    v=$("$1" -C "$2" ssh -- python3 -c '
import socket, time
s = socket.create_connection(("203.0.113.2", 9100)); b = b"x" * (1 << 20)
t = time.time()
for _ in range(512): s.sendall(b)
s.close(); print(int(512 / (time.time() - t)))')
    [ "$v" -gt "$best" ] && best=$v
  done
  echo "$best"
}

declare -A up ssh dns tp
for b in before after; do
  bin=${!b} ct=$work/$b
  mkdir -p "$ct"
  printf 'INFRA_TYPE=container\nMEMORY=512\nCPUS=1\nDISK=2\nIMAGE=localhost/tmpl-test/debian12\nSYNC=none\nEGRESS=internet\nEGRESS_ALLOW=203.0.113.0/24\n' >"$ct/.env"
  "$bin" -q -C "$ct" trust >/dev/null
  "$bin" -q -C "$ct" up >/dev/null
  slug=$("$bin" -C "$ct" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["slug"])')
  name=bench.tmpl.test
  [ "$b" = before ] && name=tmpl-$slug.dns.podman
  up[$b]=$(median_ms "$runs" "$bin" -q -C "$ct" up)
  ssh[$b]=$(median_ms "$runs" "$bin" -C "$ct" ssh -- true)
  dns[$b]=$(lookup_ms "$bin" "$ct" "$name")
  tp[$b]=$(throughput "$bin" "$ct")
  "$bin" -q -C "$ct" rm -f >/dev/null 2>&1
done

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg), median of $runs"
echo "before: $before; after: $after"
echo
echo "| container, \`EGRESS=internet\` | before | after |"
echo "|---|---|---|"
echo "| \`tmpl up\` on the running guest (re-asserts the fence) | ${up[before]} ms | ${up[after]} ms |"
echo "| \`tmpl ssh -- true\` | ${ssh[before]} ms | ${ssh[after]} ms |"
echo "| a DNS lookup in the guest (median of 20) | ${dns[before]} ms | ${dns[after]} ms |"
echo "| TCP from the guest to an allowed address | ${tp[before]} MB/s | ${tp[after]} MB/s |"
