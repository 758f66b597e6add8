"""tmpl for the current folder as invoke tasks: `invoke up`, `invoke ssh`, `invoke stop`, ...

Copy this file into a project (next to its .env), or import the tasks into your own tasks.py:

    from tmpl_tasks import up, ssh, stop, rm, validate, status, trust   # this file, renamed

Every task runs `tmpl` (or $TMPL) in the folder invoke was started in, so tmpl finds the
project from there upward, exactly as when you type the command yourself. Exit codes are
tmpl's own: `invoke status` exits 3 when the guest is stopped and 4 when it does not exist.
A new or changed project folder must be approved before `up` runs it: at a terminal `invoke
up` asks, elsewhere it exits 77 until `invoke trust`.
"""

import os
import shlex
import sys

from invoke import Exit, task

TMPL = os.environ.get("TMPL", "tmpl")


def _tmpl(c, *args, interactive=False):
    """Runs tmpl with `args`; a failure becomes invoke's exit with tmpl's own exit code."""
    line = " ".join(shlex.quote(a) for a in (TMPL, *args))
    # a pseudo-terminal only when there is a terminal to give it: a login shell needs one,
    # while output captured by a script or CI must stay byte for byte what tmpl printed
    result = c.run(line, pty=interactive and sys.stdin.isatty(), warn=True)
    if result.exited != 0:
        raise Exit(code=result.exited)
    return result


@task(help={"provision": "run provisioning even if it already ran"})
def up(c, provision=False):
    """Create, start or adopt this folder's VM or container."""
    # at a terminal, so that tmpl can ask for approval of a new or changed folder
    _tmpl(c, "up", *(["--provision"] if provision else []), interactive=True)


@task(help={"cmd": "a command line to run in the guest (by its shell) instead of a login"})
def ssh(c, cmd=None):
    """Log in to the guest, or run --cmd there."""
    if cmd:
        _tmpl(c, "ssh", "--", "sh", "-c", cmd)
    else:
        _tmpl(c, "ssh", interactive=True)


@task
def stop(c):
    """Stop the guest."""
    _tmpl(c, "stop")


@task(help={"force": "do not ask for confirmation"})
def rm(c, force=False):
    """Remove the guest and everything tmpl made for it."""
    _tmpl(c, "rm", *(["-f"] if force else []), interactive=not force)


@task
def validate(c):
    """Check .env without creating anything."""
    _tmpl(c, "validate")


@task
def trust(c):
    """Approve this folder's settings and provisioning files (what `up` runs)."""
    _tmpl(c, "trust")


@task
def status(c):
    """Say whether the guest is running (exit 0), stopped (3) or not created (4)."""
    _tmpl(c, "status")
