#!/bin/bash
# Installs the libvirt network hook that fences a person's VMs (see src/backend/vagrant/hook.rs):
# a root-owned copy of tmpl, and a hook that execs it, then has libvirtd load the hook.
# Idempotent: nothing changes when both are already as given. Run as root:
#   scripts/fence-hook.sh [TMPL_BINARY]        (default: target/release/tmpl)
# Never a binary the person can write: the hook runs as root on every network event.
set -euo pipefail
say() { printf 'fence-hook: %s\n' "$*"; }
[ "$(id -u)" = 0 ] || { echo "fence-hook: run as root" >&2; exit 1; }
src=${1:-target/release/tmpl}
[ -x "$src" ] || { echo "fence-hook: no tmpl binary at $src (cargo build --release)" >&2; exit 1; }
bin=/usr/local/lib/tmpl/tmpl
hook=/etc/libvirt/hooks/network.d/tmpl-fence
changed=0
if ! cmp -s "$src" "$bin"; then
    install -D -o root -g root -m 0755 "$src" "$bin.new" && mv -f "$bin.new" "$bin"
    changed=1; say "installed $bin"
fi
text="#!/bin/sh
# tmpl's network fence for people's VMs, written by tmpl's scripts/fence-hook.sh
exec $bin __fence-hook vm \"\$@\"
"
if [ "$(cat "$hook" 2>/dev/null)" != "${text%$'\n'}" ]; then
    install -d -o root -g root -m 0755 "$(dirname "$hook")"
    printf '%s' "$text" >"$hook.new" && chmod 0755 "$hook.new" && chown root:root "$hook.new"
    mv -f "$hook.new" "$hook"
    changed=1; say "installed $hook"
fi
# libvirtd finds hooks when it starts or reloads (SIGHUP); running VMs and networks stay
# (`tmpl doctor` reads the pid it was reloaded in from /run/tmpl-fence/hook-seen, as the
# hook itself writes it whenever it runs)
if pid=$(cat /run/libvirtd.pid 2>/dev/null) && kill -0 "$pid" 2>/dev/null &&
   { [ "$changed" = 1 ] || [ "$(cat /run/tmpl-fence/hook-seen 2>/dev/null)" != "$pid" ]; }; then
    kill -HUP "$pid"
    install -d -o root -g root -m 0755 /run/tmpl-fence
    echo "$pid" >/run/tmpl-fence/hook-seen
    say "reloaded libvirtd (pid $pid)"
fi
say "hook in place: $hook -> $bin"
