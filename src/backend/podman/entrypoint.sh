# The container's main process, run by /bin/sh: sshd with the project's key for root.
# TMPL_AUTHORIZED_KEY is set in the container's environment by tmpl.
# shellcheck shell=sh
set -e
if [ ! -x /usr/sbin/sshd ]; then
  echo "tmpl: the image has no sshd; installing openssh-server" >&2
  if command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q && apt-get install -y -q --no-install-recommends openssh-server python3
  elif command -v dnf >/dev/null 2>&1; then dnf install -y openssh-server python3
  elif command -v apk >/dev/null 2>&1; then apk add --no-cache openssh-server python3
  elif command -v pacman >/dev/null 2>&1; then pacman -Sy --noconfirm openssh python
  else
    echo "tmpl: the image has no /usr/sbin/sshd and none of apt-get, dnf, apk or pacman to install it" >&2
    exit 127
  fi
fi
mkdir -p /run/sshd /root/.ssh
chmod 700 /root/.ssh
printf '%s\n' "$TMPL_AUTHORIZED_KEY" > /root/.ssh/authorized_keys
chmod 600 /root/.ssh/authorized_keys
echo "tmpl: sshd starting" >&2
if [ -n "${TMPL_HOST_KEY:-}" ]; then
  # tmpl made this guest's host key and pinned it: no key generation at start
  (umask 077 && printf '%s\n' "$TMPL_HOST_KEY" > /etc/ssh/ssh_host_ed25519_key)
  ssh-keygen -y -f /etc/ssh/ssh_host_ed25519_key > /etc/ssh/ssh_host_ed25519_key.pub
  unset TMPL_HOST_KEY
  exec /usr/sbin/sshd -D -e -h /etc/ssh/ssh_host_ed25519_key
fi
ssh-keygen -A >/dev/null
exec /usr/sbin/sshd -D -e
