#!/bin/sh
# Run by `tmpl up` in the container, as root: the tools a coding agent usually needs.
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends git tmux ca-certificates curl nodejs npm ripgrep
# Then the agent itself, e.g.:  npm install -g <your agent's package>
