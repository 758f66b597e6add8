# Run as root in the guest by `sh -c "$(this)" tmpl NAME INFRA_TYPE SHEBANG TRACE`, with the
# provisioning script on stdin: stores it as /var/lib/tmpl/provision/script (the folder is
# TMPL_PROVISION_DIR in tmpl's own tests) and runs it
# (by its shebang when SHEBANG is `yes`, else by /bin/sh), with stdin at /dev/null. With
# TRACE `yes` (a bash script), bash reads the hook below through BASH_ENV and traces every
# command, with its file and line, into the trace file instead of stderr.
# shellcheck shell=sh
set -eu
d=${TMPL_PROVISION_DIR:-/var/lib/tmpl/provision}
mkdir -p "$d"
chmod 700 "$d"
cat > "$d/script"
chmod 700 "$d/script"
rm -f "$d/trace"
TMPL_PROJECT=$1
TMPL_INFRA_TYPE=$2
export TMPL_PROJECT TMPL_INFRA_TYPE
if [ "$4" = yes ]; then
  # `unset BASH_ENV` first: bash scripts the script runs are not traced into the same file
  cat > "$d/bash-env" <<TMPL_EOF
unset BASH_ENV
exec 9>"$d/trace"
BASH_XTRACEFD=9
PS4='+[tmpl \${BASH_SOURCE}:\${LINENO}] '
set -x
TMPL_EOF
  BASH_ENV="$d/bash-env"
  export BASH_ENV
fi
if [ "$3" = yes ]; then
  exec "$d/script" </dev/null
fi
exec /bin/sh "$d/script" </dev/null
