#!/usr/bin/env bash
# Times a no-op reprovision: `tmpl provision` on a guest that is already up to date, next to
# Vagrant's own ansible provisioner (`vagrant provision`) running the same playbook, with the
# same variables, against the same VM. Prints the median of N runs of each (default 5).
#
# The VM is the offline test box (`make fixtures`), the playbook ansible/test-fixture.yml.
# Vagrant runs on a copy of tmpl's rendered Vagrantfile with a `provision "ansible"` block
# added, and on the project's own machine data (`tmpl status --json` names both dirs), so
# tmpl's files are never changed. Everything is removed at the end.
#
#   N=7 scripts/bench-provision.sh          TMPL=target/debug/tmpl scripts/bench-provision.sh
#   TMPL_LIBVIRT_DRIVER=qemu scripts/bench-provision.sh   (where KVM is present but broken)
set -euo pipefail

N=${N:-5}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TMPL=${TMPL:-$ROOT/target/release/tmpl}
[ -x "$TMPL" ] || (cd "$ROOT" && cargo build --release --quiet)

WORK=$(mktemp -d /tmp/tmpl-bench-provision.XXXXXX)
export XDG_STATE_HOME=$WORK/state XDG_CACHE_HOME=$WORK/cache XDG_CONFIG_HOME=$WORK/config
P=$WORK/bench
cleanup() { "$TMPL" -q -C "$P" rm -f >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT

mkdir -p "$P"
cat > "$P/.env" <<EOF
INFRA_TYPE=vm
MEMORY=1024
CPUS=1
DISK=4
IMAGE=tmpl-test/debian12
PROVISION_SCRIPT=provision.yml
GREETING="{{ lookup('pipe', 'id') }}"
EOF
echo "- ansible.builtin.import_playbook: $ROOT/ansible/test-fixture.yml" > "$P/provision.yml"

say() { printf 'bench-provision: %s\n' "$*" >&2; }
now() { date +%s.%N; }
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
# one timed run of "$@" (output discarded, failure fatal), appended to the file $1
timed() {
    local out=$1 t0
    shift
    t0=$(now)
    "$@" >/dev/null 2>&1 || { say "failed: $*"; "$@"; exit 1; }
    awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.2f\n", b - a }' >> "$out"
}

say "creating the VM and provisioning it once (about two minutes under emulation)"
"$TMPL" -q -C "$P" up
"$TMPL" -q -C "$P" provision    # warm: everything already in place from here on

status=$("$TMPL" -C "$P" status --json)
field() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1" <<<"$status"; }
VCWD=$WORK/vagrant
cp -r "$(field vagrant_cwd)/." "$VCWD"
DOTFILE=$(field vagrant_dotfile_path)
VARS=$XDG_STATE_HOME/tmpl/$(field slug)/provision/vars.yml
# Vagrant's provisioner on the same playbook and the same variables as tmpl's run
python3 - "$VCWD/Vagrantfile" "$P/provision.yml" "$VARS" <<'PY'
import sys
path, playbook, vars_file = sys.argv[1:]
text = open(path).read()
anchor = "    m.vm.box_check_update = false\n"
assert anchor in text, "the rendered Vagrantfile changed shape"
block = (f"    m.vm.provision 'ansible' do |a|\n      a.playbook = '{playbook}'\n"
         f"      a.extra_vars = '{vars_file}'\n      a.compatibility_mode = '2.0'\n    end\n")
open(path, "w").write(text.replace(anchor, anchor + block, 1))
PY
vagrant_provision() {
    env -u TMPL_SSH_HOST VAGRANT_CWD="$VCWD" VAGRANT_DOTFILE_PATH="$DOTFILE" \
        VAGRANT_CHECKPOINT_DISABLE=1 VAGRANT_BOX_UPDATE_CHECK_DISABLE=1 \
        VAGRANT_DEFAULT_PROVIDER=libvirt vagrant provision
}
vagrant_provision >/dev/null    # warm, and proof that it works

say "timing $N rounds (each round runs the three one after the other, so load shifts hit all)"
for ((i = 0; i < N; i++)); do
    timed "$WORK/t-tmpl" "$TMPL" -q -C "$P" provision
    timed "$WORK/t-vagrant" vagrant_provision
    timed "$WORK/t-nopipe" env ANSIBLE_PIPELINING=False "$TMPL" -q -C "$P" provision
done

printf '%-44s %8s   %s\n' "no-op reprovision (seconds)" "median" "all runs" \
    "tmpl provision" "$(median < "$WORK/t-tmpl")" "$(paste -sd' ' "$WORK/t-tmpl")" \
    "vagrant provision (ansible provisioner)" "$(median < "$WORK/t-vagrant")" "$(paste -sd' ' "$WORK/t-vagrant")" \
    "tmpl provision, ANSIBLE_PIPELINING=False" "$(median < "$WORK/t-nopipe")" "$(paste -sd' ' "$WORK/t-nopipe")"
