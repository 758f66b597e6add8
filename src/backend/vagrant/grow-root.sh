# Run as root in a VM made from a box, once after its first boot: grows the root partition
# and filesystem to the disk (cloud images do it through cloud-init). Harmless when there is
# nothing to grow.
# shellcheck shell=sh
set -u
src=$(findmnt -no SOURCE /)
disk=$(lsblk -no PKNAME "$src" | head -n1)
part=$(cat "/sys/class/block/${src##*/}/partition" 2>/dev/null || true)
if [ -n "$disk" ] && [ -n "$part" ] && command -v growpart >/dev/null; then
  growpart "/dev/$disk" "$part" >/dev/null || true
fi
case $(findmnt -no FSTYPE /) in
  ext*) resize2fs "$src" >/dev/null 2>&1 ;;
  xfs) xfs_growfs / >/dev/null ;;
  btrfs) btrfs filesystem resize max / >/dev/null ;;
esac
true
