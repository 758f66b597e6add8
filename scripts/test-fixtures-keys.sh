#!/usr/bin/env bash
# fixtures.sh caches each artifact under a key computed from its code. A key that misses a change
# leaves a stale fixture, one that sees changes it should not rebuilds for minutes; so this checks
# that keys are stable, and that editing a function or list changes exactly the keys of the
# artifacts built with it. fixtures.sh only runs here with TMPL_FIXTURES_PRINT_KEYS=1, which
# builds nothing and touches no cache, Podman storage, Vagrant box or libvirt.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

keys() { TMPL_FIXTURES_PRINT_KEYS=1 bash "$1"; }
changed() {  # OLD_KEYS NEW_KEYS: the artifacts whose key differs
    awk 'NR == FNR { k[$1] = $2; next } k[$1] != $2 { printf "%s%s", sep, $1; sep = " " }' "$1" "$2"
}
check() {  # WHAT GOT EXPECTED
    if [ "$2" = "$3" ]; then
        printf 'ok   %s: [%s]\n' "$1" "$2"
    else
        printf 'FAIL %s: [%s], expected [%s]\n' "$1" "$2" "$3"; fail=1
    fi
}
expect() {  # WHAT SED_SCRIPT EXPECTED_CHANGED...: edit a copy of fixtures.sh, compare its keys
    local what=$1 edit=$2; shift 2
    sed -e "$edit" "$here/fixtures.sh" >"$tmp/edited.sh"
    if cmp -s "$here/fixtures.sh" "$tmp/edited.sh"; then
        printf 'FAIL %s: the edit matched nothing\n' "$what"; fail=1; return
    fi
    keys "$tmp/edited.sh" >"$tmp/edited.keys"
    check "$what changes" "$(changed "$tmp/keys" "$tmp/edited.keys")" "$*"
}
body() { printf 's/^%s() {/& : edited;/' "$1"; }   # a no-op command at the top of function $1

keys "$here/fixtures.sh" >"$tmp/keys"
keys "$here/fixtures.sh" >"$tmp/keys2"
check "artifacts" "$(awk '{ printf "%s%s", sep, $1; sep = " " }' "$tmp/keys")" "base vm image box cloud"
check "a second run changes" "$(changed "$tmp/keys" "$tmp/keys2")" ""
# A function from the caller's environment is no part of a recipe, even one named like a command
# the code runs. It is only exported to fixtures.sh, never called.
# shellcheck disable=SC2317
mount() { :; }
check "an exported mount() changes" "$(export -f mount; keys "$here/fixtures.sh" | changed "$tmp/keys" -)" ""

expect "tar_rootfs"      "$(body tar_rootfs)"      base vm image box cloud
expect "strip_rootfs"    "$(body strip_rootfs)"    vm image box cloud
expect "do_mount"        "$(body do_mount)"        vm image box cloud
expect "build_image"     "$(body build_image)"     image
expect "make_disk"       "$(body make_disk)"       box cloud
expect "customize_box"   "$(body customize_box)"   box
expect "customize_cloud" "$(body customize_cloud)" cloud
expect "main"            "$(body main)"
expect "CLOUD_PKGS"      's/^CLOUD_PKGS=(cloud-init)/CLOUD_PKGS=(cloud-init less)/' cloud
expect "IMAGE_PKGS"      's/^IMAGE_PKGS=(tmux)/IMAGE_PKGS=(tmux less)/'            image
expect "DISK_GIB"        's/^DISK_GIB=3/DISK_GIB=4/'                                box cloud
exit "$fail"
