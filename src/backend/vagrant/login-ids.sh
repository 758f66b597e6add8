# Run as root in a VM made from a box, once after its first boot, when an ordinary person runs
# tmpl: gives the login user (arguments: user, uid, gid) the person's uid and gid, so that what
# it writes into the shared project folder (virtiofs passes numeric ids through) is theirs on
# the host. Prints `taken user|group NAME` and exits 3 when another account has the id.
# shellcheck shell=sh
set -eu
user=$1 uid=$2 gid=$3
old_uid=$(id -u "$user")
old_gid=$(id -g "$user")
group=$(id -gn "$user")
if [ "$old_uid" = "$uid" ] && [ "$old_gid" = "$gid" ]; then
  exit 0
fi
other=$(getent passwd "$uid" | cut -d: -f1 || true)
if [ -n "$other" ] && [ "$other" != "$user" ]; then
  echo "taken user $other"
  exit 3
fi
other=$(getent group "$gid" | cut -d: -f1 || true)
if [ -n "$other" ] && [ "$other" != "$group" ]; then
  echo "taken group $other"
  exit 3
fi
# usermod -u refuses while the user has processes, and the session running this is one: the
# account files are edited instead (groupmod has no such check), each replaced in one rename
groupmod -g "$gid" "$group"
awk -F: -v OFS=: -v u="$user" -v uid="$uid" -v gid="$gid" \
  '$1 == u { $3 = uid; $4 = gid } { print }' /etc/passwd >/etc/passwd.tmpl-new
chmod --reference=/etc/passwd /etc/passwd.tmpl-new
mv /etc/passwd.tmpl-new /etc/passwd
home=$(getent passwd "$user" | cut -d: -f6)
# -xdev: the shared project folder is another filesystem, the host's files, never chowned
find / "$home" -xdev -uid "$old_uid" -exec chown -h "$uid" {} + 2>/dev/null || true
find / "$home" -xdev -gid "$old_gid" -exec chgrp -h "$gid" {} + 2>/dev/null || true
[ "$(id -u "$user")" = "$uid" ] && [ "$(id -g "$user")" = "$gid" ]
