# Run as root in a VM made from a box, once after its first boot (cloud images get all of
# this from cloud-init): the hostname, the login user's key, and the root partition and
# filesystem grown to the disk. Each step is harmless when already done.
#
#   sh -c "$(cat first-boot.sh)" sh NAME USER [KEY [INSECURE_BLOB...]]
#
# KEY is the project's public key line; the INSECURE_BLOBs are the base64 parts of Vagrant's
# insecure public keys, whose lines leave the user's authorized_keys. Without KEY the keys
# stay as they are (Vagrant inserted its own).
# shellcheck shell=sh
set -eu
name=$1 user=$2
shift 2

# The name, without restarting the network: Vagrant's way restarts systemd-networkd to tell
# DHCP, which cost tens of seconds under emulation, and nothing here asks DHCP for names.
printf '%s\n' "$name" >/etc/hostname
hostname "$name"
[ -f /etc/hosts ] || printf '127.0.0.1\tlocalhost\n' >/etc/hosts
hosts=$(awk -v n="$name" '$1 == "127.0.1.1" { next } { print } END { print "127.0.1.1\t" n }' /etc/hosts)
printf '%s\n' "$hosts" >/etc/hosts

if [ $# -gt 0 ]; then
  key=$1
  shift
  blob=$(printf '%s\n' "$key" | awk '{ print $2 }')
  home=$(getent passwd "$user" | cut -d: -f6)
  mkdir -p "$home/.ssh"
  ak=$home/.ssh/authorized_keys
  tmp=$(mktemp "$ak.XXXXXX")
  # every line but the insecure keys and an earlier copy of the project's, then the project's
  if [ -f "$ak" ]; then
    awk -v drop="$* $blob" 'BEGIN { n = split(drop, d, " ") }
      { for (i = 1; i <= n; i++) if (index($0, d[i])) next; print }' "$ak" >"$tmp"
  fi
  printf '%s\n' "$key" >>"$tmp"
  chown "$user:$(id -g "$user")" "$home/.ssh" "$tmp"
  chmod 700 "$home/.ssh"
  chmod 600 "$tmp"
  mv -f "$tmp" "$ak"
fi

src=$(findmnt -no SOURCE /)
disk=$(lsblk -no PKNAME "$src" | head -n1)
part=$(cat "/sys/class/block/${src##*/}/partition" 2>/dev/null || true)
if [ -n "$disk" ] && [ -n "$part" ] && command -v growpart >/dev/null; then
  growpart "/dev/$disk" "$part" >/dev/null || true
fi
case $(findmnt -no FSTYPE /) in
  ext*) resize2fs "$src" >/dev/null 2>&1 || true ;;
  xfs) xfs_growfs / >/dev/null || true ;;
  btrfs) btrfs filesystem resize max / >/dev/null || true ;;
esac
