# What a guest with secrets gets, run as root over SSH by tmpl after each `up` that changed
# something (see src/broker/guest.rs): the broker's CA in the system's trust store, the
# variables in every session sshd starts (SetEnv), in login shells and through sudo, and a
# git credential helper that answers with the placeholder. `remove` takes it all out again.
# Arguments: ACTION FINGERPRINT CA_PEM VARIABLES GIT_HOSTS
# shellcheck shell=sh
set -eu
action=$1 fingerprint=$2 ca=$3 vars=$4 git_hosts=$5
dir=/etc/tmpl/credentials
conf=/etc/ssh/sshd_config.d/00-tmpl-credentials.conf
anchor=

if [ "$action" = apply ] && [ "$(cat "$dir/applied" 2>/dev/null || true)" = "$fingerprint" ]; then
  echo unchanged
  exit 0
fi

# the store each family of distributions has, and the bundle it makes
if command -v update-ca-certificates >/dev/null 2>&1 && [ -d /usr/local/share/ca-certificates ]; then
  anchor=/usr/local/share/ca-certificates/tmpl-credential-broker.crt
  bundle=/etc/ssl/certs/ca-certificates.crt
elif command -v update-ca-trust >/dev/null 2>&1; then
  for d in /etc/pki/ca-trust/source/anchors /etc/ca-certificates/trust-source/anchors; do
    [ -d "$d" ] && { anchor=$d/tmpl-credential-broker.crt; break; }
  done
  bundle=/etc/pki/tls/certs/ca-bundle.crt
  [ -f "$bundle" ] || bundle=/etc/ssl/certs/ca-certificates.crt
fi

refresh_store() {
  if [ -z "$anchor" ]; then return 0; fi
  if command -v update-ca-certificates >/dev/null 2>&1; then
    update-ca-certificates >/dev/null
  else
    update-ca-trust extract >/dev/null
  fi
}

# Rebuilding Debian's store runs a process or more per certificate: half a second in a
# container, over 30 s in a VM under emulation. So on Debian and its kin the CA goes into the
# bundle and the hashed folder directly, and comes out the same way; the anchor in
# /usr/local/share keeps it there through the store's own rebuilds.
debian_bundle=/etc/ssl/certs/ca-certificates.crt
debian_store() {
  [ -f "$debian_bundle" ] && [ -d /usr/local/share/ca-certificates ] && command -v update-ca-certificates >/dev/null 2>&1
}
store_add() {  # the anchor, already in place
  cat "$anchor" >>"$debian_bundle"
  ln -sf "$anchor" /etc/ssl/certs/tmpl-credential-broker.pem
  if h=$(openssl x509 -hash -noout -in "$anchor" 2>/dev/null); then
    ln -sf tmpl-credential-broker.pem "/etc/ssl/certs/$h.0"
  fi
}
store_drop() {  # the anchor as it was added, which is then removed
  [ -f "$anchor" ] || return 0
  awk -v f="$anchor" 'BEGIN { while ((getline l < f) > 0) t = t l "\n" }
    { b = b $0 "\n" }
    /-----END CERTIFICATE-----/ { if (b != t) printf "%s", b; b = "" }
    END { printf "%s", b }' "$debian_bundle" >"$debian_bundle.tmpl-new"
  mv "$debian_bundle.tmpl-new" "$debian_bundle"
  chmod 0644 "$debian_bundle"
  if h=$(openssl x509 -hash -noout -in "$anchor" 2>/dev/null); then rm -f "/etc/ssl/certs/$h.0"; fi
  rm -f "$anchor" /etc/ssl/certs/tmpl-credential-broker.pem
}

# sshd reads its configuration when it starts: the listener is told to read it again (tmpl
# then waits until a new session has the variables); sessions already open keep what they had
reload_sshd() {
  pid=$(cat /run/sshd.pid 2>/dev/null || true)
  if [ -z "$pid" ] && [ "$(cat /proc/1/comm 2>/dev/null)" = sshd ]; then pid=1; fi
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -HUP "$pid"; fi
}

git_include() {  # add | remove
  line='	path = /etc/tmpl/credentials/gitconfig'
  if [ "$1" = add ]; then
    grep -qxF "$line" /etc/gitconfig 2>/dev/null || printf '[include]\n%s\n' "$line" >>/etc/gitconfig
  elif [ -f /etc/gitconfig ]; then
    grep -vxF "$line" /etc/gitconfig >/etc/gitconfig.tmpl-new || true
    mv /etc/gitconfig.tmpl-new /etc/gitconfig
  fi
}

if [ "$action" = remove ]; then
  rm -f "$conf" /etc/profile.d/tmpl-credentials.sh /etc/sudoers.d/tmpl-credentials
  if [ -n "$anchor" ] && debian_store; then
    store_drop
  elif [ -n "$anchor" ]; then
    rm -f "$anchor"
    refresh_store
  fi
  git_include remove
  rm -rf "$dir"
  reload_sshd
  exit 0
fi

umask 022
mkdir -p "$dir"
# no blank line: the certificate must be the same block in the bundle as in its file
printf '%s\n' "$ca" | grep . >"$dir/ca.crt"
if [ -n "$anchor" ] && ! cmp -s "$dir/ca.crt" "$anchor"; then
  if debian_store; then
    store_drop
    cp "$dir/ca.crt" "$anchor"
    store_add
  else
    cp "$dir/ca.crt" "$anchor"
    refresh_store
  fi
fi
# without a store to add it to: a bundle of tmpl's own, the system's certificates first
if [ -z "$anchor" ] || [ ! -f "$bundle" ]; then
  bundle=$dir/bundle.pem
  : >"$bundle"
  for b in /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt /etc/ssl/cert.pem; do
    if [ -f "$b" ]; then cat "$b" >>"$bundle"; break; fi
  done
  cat "$dir/ca.crt" >>"$bundle"
fi

host=$(hostname 2>/dev/null || cat /etc/hostname)
{
  printf '%s\n' "$vars" | sed "s/^\(NO_PROXY\|no_proxy\)=\(.*\)/\1=\2,$host/"
  printf 'SSL_CERT_FILE=%s\nREQUESTS_CA_BUNDLE=%s\nNODE_EXTRA_CA_CERTS=%s\n' "$bundle" "$bundle" "$dir/ca.crt"
} | grep . >"$dir/env"

# every session sshd starts; first in sshd_config.d, as sshd takes the first SetEnv it reads
mkdir -p /etc/ssh/sshd_config.d
printf '# written by tmpl: the credential broker'"'"'s variables\nSetEnv %s\n' "$(tr '\n' ' ' <"$dir/env")" >"$conf.new"
mv "$conf.new" "$conf"
if ! grep -qiE '^[[:space:]]*Include[[:space:]]+/etc/ssh/sshd_config\.d/\*\.conf' /etc/ssh/sshd_config; then
  grep -qF "$conf" /etc/ssh/sshd_config || sed -i "1i Include $conf" /etc/ssh/sshd_config
fi
if ! /usr/sbin/sshd -t 2>"$dir/sshd-t.err"; then
  rm -f "$conf"
  echo "tmpl: sshd does not take the credential variables: $(cat "$dir/sshd-t.err")" >&2
  exit 1
fi

# login shells that do not come through sshd (a console, `su -`)
printf '# written by tmpl: the credential broker'"'"'s variables\nset -a\n. %s\nset +a\n' "$dir/env" >/etc/profile.d/tmpl-credentials.sh

# sudo keeps them (it resets the environment otherwise), checked before it is put in place
if [ -d /etc/sudoers.d ] && command -v visudo >/dev/null 2>&1; then
  names=$(cut -d= -f1 "$dir/env" | tr '\n' ' ')
  printf 'Defaults env_keep += "%s"\n' "${names% }" >"$dir/sudoers"
  if visudo -cqf "$dir/sudoers" >/dev/null 2>&1; then
    install -m 0440 "$dir/sudoers" /etc/sudoers.d/tmpl-credentials
  fi
  rm -f "$dir/sudoers"
fi

# git over HTTPS: the placeholder as the password for the hosts that own a secret
printf '%s\n' "$git_hosts" | grep . >"$dir/git-hosts" || : >"$dir/git-hosts"
cat >"$dir/git-credential" <<'HELPER'
#!/bin/sh
# git's credential helper, written by tmpl: the placeholder for the hosts whose secret the
# credential broker puts into requests; nothing for any other host
[ "$1" = get ] || exit 0
protocol= host=
while IFS= read -r line; do
  case $line in
    protocol=*) protocol=${line#protocol=} ;;
    host=*) host=${line#host=} ;;
    '') break ;;
  esac
done
[ "$protocol" = https ] || exit 0
while read -r h p; do
  if [ "$h" = "$host" ]; then
    printf 'username=x-access-token\npassword=%s\n' "$p"
    exit 0
  fi
done </etc/tmpl/credentials/git-hosts
HELPER
chmod 0755 "$dir/git-credential"
printf '[credential]\n\thelper = %s\n' "$dir/git-credential" >"$dir/gitconfig"
git_include add

reload_sshd
printf '%s\n' "$fingerprint" >"$dir/applied"
