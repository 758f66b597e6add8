# shellcheck shell=bash
# shellcheck disable=SC2154  # the variables and functions of bench-create.sh
# The VM rows of scripts/bench-create.sh, which sources this file after its container rounds
# (it uses that script's tmpl, work, vm, plain, plain_vagrant, ms, add, med, rows, greeting).
#
#   box:   tmpl up, stop, up, rm        next to   vagrant up, halt, up, destroy -f
#   cloud: tmpl up of IMAGE=<qcow2>     next to   the specification's routine by hand
#
# The routine by hand is the one in the specification (shared/seeds/002): an overlay on the
# cloud image with `qemu-img`, a NoCloud seed ISO with `xorriso`, `virt-install --import` on
# libvirt's default network, then waiting for sshd. It ends when a login works, as tmpl's up
# does. Both bring up the same fixture image with 1 GiB, 1 CPU and an 8 GiB disk.

cloud_src=$HOME/.cache/tmpl-test/debian12-cloud.qcow2
hand=tmplbench-hand
pool=/var/lib/libvirt/images
base=$pool/tmplbench-base.qcow2
cloud=$work/cloud
mkdir -p "$cloud"
printf 'INFRA_TYPE=vm\nMEMORY=1024\nCPUS=1\nDISK=8\nIMAGE=%s\nSYNC=none\n' "$cloud_src" >"$cloud/.env"
"$tmpl" -q -C "$cloud" trust >/dev/null

# virt-install is only needed here; without recommends it is a few Python modules (with
# them, a desktop viewer)
if ! command -v virt-install >/dev/null; then
  echo "installing virt-install (virtinst) for the by-hand row..." >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends virtinst >/dev/null
fi

hand_remove() {
  virsh -q destroy "$hand" >/dev/null 2>&1 || true
  virsh -q undefine "$hand" >/dev/null 2>&1 || true
  rm -f "$pool/$hand.qcow2" "$pool/$hand-seed.iso"
}
hand_cleanup() {
  hand_remove
  rm -f "$base"
  virsh -q pool-refresh default >/dev/null 2>&1 || true
}
# The person downloads the image once: here it is copied into the pool before any timing.
cp --reflink=auto "$cloud_src" "$base"

lease() { # MAC: the address libvirt's dnsmasq gave it
  virsh -q net-dhcp-leases default --mac "$1" 2>/dev/null | awk '/ipv4/ {split($5, a, "/"); print a[1]; exit}'
}
hand_up() {
  local seed=$work/seed mac ip end
  qemu-img create -q -f qcow2 -F qcow2 -b "$base" "$pool/$hand.qcow2"
  qemu-img resize -q "$pool/$hand.qcow2" 8G
  mkdir -p "$seed"
  cat >"$seed/user-data" <<UD
#cloud-config
hostname: $hand
users:
  - name: av
    sudo: 'ALL=(ALL) NOPASSWD:ALL'
    shell: /bin/bash
    ssh_authorized_keys:
      - '$(cat "$work/client.pub")'
UD
  printf 'instance-id: %s-%s\nlocal-hostname: %s\n' "$hand" "$RANDOM" "$hand" >"$seed/meta-data"
  xorriso -as genisoimage -output "$pool/$hand-seed.iso" -volid CIDATA -joliet -rock \
    "$seed/user-data" "$seed/meta-data" >/dev/null 2>&1
  virt-install --name "$hand" --memory 1024 --vcpus 1 --virt-type "$TMPL_LIBVIRT_DRIVER" \
    --osinfo detect=on,require=off --import \
    --disk "path=$pool/$hand.qcow2,format=qcow2,bus=virtio" \
    --disk "path=$pool/$hand-seed.iso,device=cdrom" \
    --network network=default,model=virtio \
    --graphics none --console pty,target_type=serial --noautoconsole >/dev/null
  mac=$(virsh -q domiflist "$hand" | awk '{print $5; exit}')
  end=$((SECONDS + 600))
  until ip=$(lease "$mac") && [ -n "$ip" ]; do
    ((SECONDS < end)) || return 1
    sleep 0.5
  done
  greeting 22 "$ip"
  until ssh -q -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
    -o ConnectTimeout=5 -i "$work/client" "av@$ip" true; do
    ((SECONDS < end)) || return 1
    sleep 0.5
  done
}

row_s() { # label tmpl-key other-label other-key target: like row, in seconds
  local a b; a=$(med "$2"); b=$(med "$4")
  awk -v l="$1" -v a="$a" -v o="$3" -v b="$b" -v t="$5" \
    'BEGIN {printf "| %s | %.1f s | %s: %.1f s | %.2f× | %s |\n", l, a/1000, o, b/1000, a/b, t}'
}

# The first up from a cloud image wraps it as a box and uploads it into the pool, once per
# image: not timed (the person's own download and copy into the pool are not timed either).
echo "VMs: wrapping the cloud image once (untimed)..." >&2
"$tmpl" -q -C "$cloud" up >/dev/null 2>&1
"$tmpl" -q -C "$cloud" rm -f >/dev/null 2>&1

echo "VMs, $vm_runs round(s) (minutes each under emulation)..." >&2
for _ in $(seq "$vm_runs"); do
  add vup "$(ms "$tmpl" -q -C "$vm" up)"
  add vstop "$(ms "$tmpl" -q -C "$vm" stop)"
  add vup2 "$(ms "$tmpl" -q -C "$vm" up)"
  add vrm "$(ms "$tmpl" -q -C "$vm" rm -f)"
  add pup "$(ms plain_vagrant up --provider=libvirt)"
  add phalt "$(ms plain_vagrant halt)"
  add pup2 "$(ms plain_vagrant up --provider=libvirt)"
  add pdestroy "$(ms plain_vagrant destroy -f)"
  add cup "$(ms "$tmpl" -q -C "$cloud" up)"
  "$tmpl" -q -C "$cloud" rm -f >/dev/null 2>&1
  add hand "$(ms hand_up)"
  hand_remove
done
rows+=("$(row_s 'VM `up` from a box (grows the root filesystem)' vup 'plain `vagrant up`' pup '≤ 1.15×')")
rows+=("$(row_s 'VM `up` from a cloud image' cup 'by hand: `qemu-img` overlay, `xorriso` seed, `virt-install --import`, sshd' hand '≤ 1.15×')")
rows+=("$(row_s 'VM `up` of a stopped VM' vup2 '`vagrant up`' pup2 '≤ 1.05×')")
rows+=("$(row_s 'VM `stop`' vstop '`vagrant halt`' phalt '≤ 1.05×')")
rows+=("$(row_s 'VM `rm`' vrm '`vagrant destroy -f`' pdestroy '≤ 1.05×')")
