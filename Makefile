# tmpl: build, test, install. `make test` sets up a fresh machine first (idempotent, seconds
# when everything is already there), so it is the one command CI and a newcomer run.

CARGO ?= cargo
PREFIX ?= $(HOME)/.cargo
TMPL := target/release/tmpl

.PHONY: all build release test test-fast e2e lint fmt install setup fixtures demo bench clean man

all: build

build:
	$(CARGO) build

release:
	$(CARGO) build --release

## Everything: host setup, offline fixtures, lint, unit + CLI + end-to-end tests.
## e2e-daemons lets the fault suite stop and restart the host's libvirtd and Podman service:
## tests run one at a time here, so nothing else is using them meanwhile.
test: setup fixtures lint
	$(CARGO) test --features e2e-daemons --no-fail-fast --all-targets -- --test-threads=1

## Unit tests, trycmd cases, the layers, the third driver and the credential broker against a
## local stand-in: no VM, container or daemon.
test-fast:
	$(CARGO) test --lib --test cli --test cli_parse --test readme --test layers --test surface --test broker --test resolver

## End-to-end tests only (real Podman, real libvirt + Vagrant).
e2e: setup fixtures
	$(CARGO) test --features e2e --test 'e2e*' -- --test-threads=1 --nocapture

## The shell tmpl runs in guests (src/**/*.sh, compiled in with include_str!) and its scripts.
SHELL_FILES := $(shell find src scripts examples -name '*.sh')

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
	shellcheck --severity=warning $(SHELL_FILES)

fmt:
	$(CARGO) fmt

install:
	$(CARGO) install --locked --path . --root $(PREFIX)

## Install and start libvirt, Vagrant, Podman, Ansible (Debian/Ubuntu).
setup:
	bash scripts/setup.sh
	$(CARGO) build --release --locked
	bash scripts/fence-hook.sh target/release/tmpl

## Build the offline test box, container image and cloud image (cached by recipe).
fixtures:
	bash scripts/fixtures.sh

## tmpl's main job on an example project, from a fresh machine.
demo: setup fixtures release
	bash scripts/demo.sh

## Everyday commands against Vagrant and Podman (scripts/bench.sh), then creating guests
## against the tools underneath (scripts/bench-create.sh: the targets of creation speed).
bench: setup fixtures release
	bash scripts/bench.sh
	bash scripts/bench-create.sh

## Manual pages (tmpl.1 and one per subcommand) into target/man: `man -l target/man/tmpl.1`.
man: release
	$(TMPL) man --out target/man

clean:
	$(CARGO) clean
