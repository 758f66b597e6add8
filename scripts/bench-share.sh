#!/usr/bin/env bash
# What the project folder's file server (`tmpl __share`) costs: `git status` of a committed
# 10,000-file tree (median of 5 runs after one to warm up) and creating 2,000 small files
# (median of 3), in the folder directly and through the share, on the host and in a rootful
# container (the folder bound in directly, or the share's mountpoint). As root.
#
#   scripts/bench-share.sh            # uses target/release/tmpl (`make release`)
#   TMPL=target/debug/tmpl scripts/bench-share.sh
#   TMPDIR=/dev/shm scripts/bench-share.sh   # on tmpfs: the server alone, without the disk
set -euo pipefail

TMPL=${TMPL:-target/release/tmpl}
IMAGE=${IMAGE:-localhost/tmpl-test/debian12}
[ "$(id -u)" -eq 0 ] || { echo "bench-share: run as root (the share mounts FUSE)" >&2; exit 1; }
[ -x "$TMPL" ] || { echo "bench-share: no $TMPL: make release" >&2; exit 1; }
TMPL=$(realpath "$TMPL")

W=$(mktemp -d "${TMPDIR:-/tmp}/tmpl-bench-share.XXXXXX")
chmod 700 "$W"
PID=
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    umount -l "$W/state/mnt" 2>/dev/null || true
    rm -rf "$W"
}
trap cleanup EXIT

# The same measurements, wherever they run: on the host, or in the container (`sh -c`).
BENCH='
d=$1
now() { date +%s.%N; }
med() { sort -n | awk "{a[NR]=\$1} END {print a[int((NR+1)/2)]}"; }
G="git -c safe.directory=* -C $d"
$G status --porcelain >/dev/null
for i in 1 2 3 4 5; do
    t0=$(now); $G status --porcelain >/dev/null; t1=$(now)
    awk -v a=$t0 -v b=$t1 "BEGIN {print b - a}"
done | med | xargs printf "git_status %.3f\n"
for r in 1 2 3; do
    w=$d/bench-$r; mkdir $w
    t0=$(now); i=0; while [ $i -lt 2000 ]; do echo "x $i" > $w/f$i; i=$((i+1)); done; t1=$(now)
    rm -rf $w
    awk -v a=$t0 -v b=$t1 "BEGIN {print b - a}"
done | med | xargs printf "create_2000 %.3f\n"
'

echo "bench-share: a 10,000-file tree in $W/proj"
mkdir -p "$W/proj" "$W/state"
(
    cd "$W/proj"
    git init -q -b main .
    for i in $(seq 0 99); do
        mkdir d$i
        for j in $(seq 0 99); do echo "file $i $j" > d$i/f$j.txt; done
    done
    git add -A
    git -c user.name=b -c user.email=b@b commit -qm tree
)
git clone -q --bare "$W/proj" "$W/state/git"
git --git-dir="$W/state/git" config core.bare false
git --git-dir="$W/state/git" --work-tree="$W/proj" reset -q
printf '{"source":"%s","gitdir":"%s","mountpoint":"%s","readonly":false,"protect":[],"allow_other":true}\n' \
    "$W/proj" "$W/state/git" "$W/state/mnt" > "$W/state/config.json"
"$TMPL" __share "$W/state/config.json" 2> "$W/share.log" &
PID=$!
for _ in $(seq 300); do [ -f "$W/state/ready.json" ] && break; sleep 0.05; done
[ -f "$W/state/ready.json" ] || { cat "$W/share.log" >&2; exit 1; }

# git in the container: the image's, or the host's (the test image is the host's release)
GIT_MOUNTS=()
if ! podman run --rm "$IMAGE" git --version >/dev/null 2>&1; then
    GIT_MOUNTS=(-v /usr/bin/git:/usr/bin/git:ro -v /usr/lib/git-core:/usr/lib/git-core:ro
                -v /usr/share/git-core:/usr/share/git-core:ro)
fi
in_container() { podman run --rm -v "$1:/p" "${GIT_MOUNTS[@]}" "$IMAGE" sh -c "$BENCH" sh /p; }

{
    sh -c "$BENCH" sh "$W/proj" | sed 's/^/host direct /'
    sh -c "$BENCH" sh "$W/state/mnt" | sed 's/^/host share /'
    in_container "$W/proj" | sed 's/^/container direct /'
    in_container "$W/state/mnt" | sed 's/^/container share /'
} | awk '{printf "%-10s %-7s %-11s %7.3f s\n", $1, $2, $3, $4}'
