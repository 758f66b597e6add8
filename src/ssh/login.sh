# A login into the guest: `sh -c "$(this)" tmpl DIR SESSION NAME`. Into the project folder
# DIR when it is there, then the tmux or zellij session NAME, or a login shell.
# shellcheck shell=sh
if [ -n "$1" ]; then
  cd "$1" 2>/dev/null || echo "tmpl: the project folder $1 is not in the guest; starting in $HOME" >&2
fi
case "$2" in
  tmux) command -v tmux >/dev/null 2>&1 && exec tmux new-session -A -s "$3" ;;
  zellij) command -v zellij >/dev/null 2>&1 && exec zellij attach --create "$3" ;;
esac
if [ -n "$2" ]; then
  echo "tmpl: SESSION=$2 in .env, but $2 is not installed in the guest; opening a plain shell (install it, e.g. from PROVISION_SCRIPT)" >&2
fi
exec "${SHELL:-/bin/sh}" -l
