#!/usr/bin/env bash
# tmpl's main job on an example project: up (create + provision), status, ssh, a forwarded
# port, stop, up again, rm. Run by `make demo` after `make setup fixtures`.
set -euo pipefail
cd "$(dirname "$0")/.."
tmpl=${TMPL:-target/release/tmpl}
project=examples/offline-demo
step() { printf '\n\033[1m$ %s\033[0m\n' "$*" >&2; }
run() { step "tmpl $*"; "$tmpl" -C "$project" "$@"; }
run validate
# a new folder: tmpl shows what it will run on this host and in the guest, and it is approved
# once (on a terminal `tmpl up` asks instead; here nothing could answer)
run trust
run up
run status
run ssh -- sh -c 'echo "hello from $(hostname): $(nproc) CPUs visible, $(uname -r)"'
step "curl http://127.0.0.1:18080/"
for _ in $(seq 20); do curl -fsS http://127.0.0.1:18080/ && break || sleep 0.5; done
run stop
run up
run ls
run rm -f
