#!/usr/bin/env bash
# What the credential broker costs a guest's programs: the same HTTPS server asked directly,
# through the broker as a plain tunnel (a host without a secret), and through the broker with
# TLS terminated and a placeholder swapped (a host that owns a secret), side by side in one
# run: the median time of ROUNDS small requests (curl, a connection each, as a CLI tool makes
# them; interleaved so the three ways share the machine's moods) and the time of one 100 MB
# download (median of 9).
#
# The server is `openssl s_server -WWW` in a network namespace this script makes
# (172.29.96.0/24, which the broker's fence opens, as EGRESS_ALLOW would; no default route:
# the documentation ranges are the tests'), with a certificate from a CA of
# the script's, which the broker trusts through SSL_CERT_FILE. The broker is tmpl's own
# (`tmpl __broker start`, given its spec on stdin as `up` gives it), on 127.0.0.1, in a mount
# namespace whose /etc/hosts names the server: nothing is written to the host's. Everything
# is removed at the end. Needs root.
#
#   scripts/bench-broker.sh [ROUNDS]          (default 200)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-200}
cargo build --release -q
tmpl=$PWD/target/release/tmpl
work=$(mktemp -d /tmp/tmpl-bench-broker.XXXXXX)
ns=tmplbb-inet veth=tmplbbi0 addr=172.29.96.2 port=18443 proxy=127.0.0.1:18128
server_pid='' broker_pid=''
cleanup() {
  [ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null || true
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  ip link del "$veth" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
cleanup_old() { ip netns del "$ns" 2>/dev/null || true; ip link del "$veth" 2>/dev/null || true; }
cleanup_old
ip netns add "$ns"
ip link add "$veth" type veth peer name eth0 netns "$ns"
ip addr add 172.29.96.1/24 dev "$veth" && ip link set "$veth" up
ip -n "$ns" addr add "$addr/24" dev eth0 && ip -n "$ns" link set eth0 up && ip -n "$ns" link set lo up

# the server's CA and certificate (both names), and the guest's CA and the broker's
# certificate for the secret's host
cd "$work"
ossl() { openssl "$@" 2>/dev/null; }
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=bench stand-in CA"
ossl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout srv.key -out srv.csr -subj "/CN=api.bench.example"
printf 'subjectAltName=DNS:api.bench.example,DNS:other.bench.example\n' >srv.ext
ossl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2 -extfile srv.ext
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout guest-ca.key -out guest-ca.pem -days 2 -subj "/CN=bench guest CA"
ossl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout leaf.key -out leaf.csr -subj "/CN=api.bench.example"
printf 'subjectAltName=DNS:api.bench.example\nextendedKeyUsage=serverAuth\n' >leaf.ext
ossl x509 -req -in leaf.csr -CA guest-ca.pem -CAkey guest-ca.key -CAcreateserial -out leaf.pem -days 2 -extfile leaf.ext
openssl pkcs8 -topk8 -nocrypt -in leaf.key -out leaf.p8

mkdir www && printf 'ok\n' >www/small && head -c 100000000 /dev/zero >www/big
(cd www && exec ip netns exec "$ns" openssl s_server -quiet -accept "$addr:$port" -cert ../srv.pem -key ../srv.key -WWW >/dev/null 2>&1) &
server_pid=$!

mkdir broker
python3 - "$work" "$proxy" <<'EOF' >spec.json
import json, sys
w, proxy = sys.argv[1], sys.argv[2]
read = lambda f: open(f"{w}/{f}").read()
print(json.dumps({
    "dir": f"{w}/broker",
    "listen": proxy,
    "clients": "127.0.0.0/8",
    "fence": {"egress": "internet", "allow": ["172.29.96.0/24"], "host_addrs": []},
    "secrets": [{"name": "API_KEY", "hosts": ["api.bench.example"],
                 "placeholder": "tmpl-placeholder-api_key-0000", "value": "real-value-1234"}],
    "leaves": [{"host": "api.bench.example", "chain_pem": read("leaf.pem") + read("guest-ca.pem"),
                "key_pem": read("leaf.p8")}],
}))
EOF
printf '%s api.bench.example other.bench.example\n127.0.0.1 localhost\n' "$addr" >hosts
said=$(SSL_CERT_FILE=$work/ca.pem unshare -m sh -c 'mount --bind "$1/hosts" /etc/hosts && exec "$2" __broker start <"$1/spec.json"' sh "$work" "$tmpl")
broker_pid=${said#ready }
cat ca.pem guest-ca.pem >trusted.pem
sleep 0.5

url() { printf 'https://%s.bench.example:%s/%s' "$1" "$port" "$2"; }
direct() { curl -sS -o /dev/null --cacert ca.pem --resolve "$1.bench.example:$port:$addr" -w '%{time_total} %{speed_download}\n' -H 'x-api-key: tmpl-placeholder-api_key-0000' "$(url "$1" "$2")"; }
brokered() { curl -sS -o /dev/null --cacert trusted.pem --proxy "http://$proxy" -w '%{time_total} %{speed_download}\n' -H 'x-api-key: tmpl-placeholder-api_key-0000' "$(url "$1" "$2")"; }

# a first request each way, not counted (caches, the server's first accept)
direct api small >/dev/null; brokered other small >/dev/null; brokered api small >/dev/null
: >direct.txt; : >tunnel.txt; : >swap.txt
for _ in $(seq "$rounds"); do
  direct api small >>direct.txt
  brokered other small >>tunnel.txt
  brokered api small >>swap.txt
done
# the broker's own CPU time (user + system, in clock ticks) for each download through it
ticks() { awk '{print $14 + $15}' "/proc/$broker_pid/stat"; }
: >big-direct.txt; : >big-tunnel.txt; : >big-swap.txt; : >cpu-tunnel.txt; : >cpu-swap.txt
for _ in 1 2 3 4 5 6 7 8 9; do
  direct api big >>big-direct.txt
  t0=$(ticks); brokered other big >>big-tunnel.txt; echo $(($(ticks) - t0)) >>cpu-tunnel.txt
  t0=$(ticks); brokered api big >>big-swap.txt; echo $(($(ticks) - t0)) >>cpu-swap.txt
done
grep -qF '"names":["API_KEY"]' broker/log.jsonl || { echo "the broker logged no swap" >&2; exit 1; }

python3 - <<'EOF'
import statistics as st
def col(f, i):
    return [float(l.split()[i]) for l in open(f) if l.strip()]
small = {k: st.median(col(f"{k}.txt", 0)) * 1000 for k in ("direct", "tunnel", "swap")}
big = {k: st.median(col(f"big-{k}.txt", 0)) for k in ("direct", "tunnel", "swap")}
mbs = {k: 100e6 / big[k] / 1e6 for k in big}
print("| | direct | broker, tunnel | broker, TLS terminated + swap |")
print("|---|---|---|---|")
print(f"| small request, median (ms) | {small['direct']:.2f} | {small['tunnel']:.2f} (+{small['tunnel']-small['direct']:.2f}) | {small['swap']:.2f} (+{small['swap']-small['direct']:.2f}) |")
print(f"| 100 MB download (s) | {big['direct']:.3f} | {big['tunnel']:.3f} | {big['swap']:.3f} |")
hz = int(__import__("os").sysconf("SC_CLK_TCK"))
cpu = {k: st.median(col(f"cpu-{k}.txt", 0)) / hz * 1000 for k in ("tunnel", "swap")}
print(f"| the broker's CPU time for 100 MB (ms) | | {cpu['tunnel']:.0f} | {cpu['swap']:.0f} |")
print(f"| throughput (MB/s) | {mbs['direct']:.0f} | {mbs['tunnel']:.0f} ({100*(mbs['tunnel']/mbs['direct']-1):+.1f}%) | {mbs['swap']:.0f} ({100*(mbs['swap']/mbs['direct']-1):+.1f}%) |")
EOF
echo
echo "Machine: $(nproc) CPUs, $(free -g | awk '/Mem:/{print $2}') GiB, $(. /etc/os-release; echo "$PRETTY_NAME"), Linux $(uname -r), $(openssl version | cut -d' ' -f1-2), curl $(curl --version | head -1 | cut -d' ' -f2); $rounds rounds; load $(cut -d' ' -f1-3 /proc/loadavg)"
