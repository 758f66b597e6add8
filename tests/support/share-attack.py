#!/usr/bin/env python3
"""share-attack.py DIR: the guest, as root, against the project folder served by `tmpl __share`.

Expects the fixture of tests/common/share.rs: a.txt, sub/, kept/dir (PROTECT), keep/deep
(PROTECT), later/x (PROTECT, missing), vendor/lib/.git, bare.git, hardlink-k (the host's
second name for kept/dir/k), .git (the guest's own repository). Prints PASS or FAIL per
check and exits 1 on any FAIL. What it leaves behind is checked from the host after.
"""
import ctypes, errno, mmap, os, socket, stat, sys

os.chdir(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
fails = 0


def res(name, ok, detail=""):
    global fails
    print(("PASS " if ok else "FAIL ") + name + (" " + detail if detail else ""))
    fails += not ok


def denied(name, fn):
    try:
        fn()
    except OSError as e:
        return res(name, True, "(%s)" % errno.errorcode.get(e.errno, e.errno))
    res(name, False, "succeeded")


def allowed(name, fn):
    try:
        fn()
    except OSError as e:
        return res(name, False, "(%s)" % errno.errorcode.get(e.errno, e.errno))
    res(name, True)


def touch(p):
    os.close(os.open(p, os.O_CREAT | os.O_WRONLY, 0o644))


def append(p):
    with open(p, "a") as f:
        f.write("PWNED\n")


def renameat2(a, b, flags):
    # SYS_renameat2 on x86_64; AT_FDCWD = -100
    if libc.syscall(316, -100, a.encode(), -100, b.encode(), flags) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


EXCHANGE, WHITEOUT = 2, 4
hook = "#!/bin/sh\ntouch /tmp/PWNED\n"

# --- repositories of the guest's making --------------------------------------------------
denied("mkdir sub/.git", lambda: os.mkdir("sub/.git"))
denied("mkdir sub/.GiT", lambda: os.mkdir("sub/.GiT"))
denied("gitdir: file sub/.git", lambda: touch("sub/.git"))
denied("create sub/HEAD", lambda: touch("sub/HEAD"))
denied("symlink sub/.git", lambda: os.symlink("/tmp", "sub/.git"))
allowed("create w", lambda: touch("w"))
denied("rename w to sub/.git", lambda: os.rename("w", "sub/.git"))
denied("rename w to sub/HEAD", lambda: os.rename("w", "sub/HEAD"))
denied("link w as sub/HEAD", lambda: os.link("w", "sub/HEAD"))
os.makedirs("r/refs")
touch("r/HEAD2")
denied("rename r/HEAD2 to r/HEAD", lambda: os.rename("r/HEAD2", "r/HEAD"))
denied("rename r to sub/.git", lambda: os.rename("r", "sub/.git"))
# --- the guest's own repository: data only -----------------------------------------------
denied("append .git/config", lambda: append(".git/config"))
denied("core.hooksPath through config.lock", lambda: touch(".git/config.lock"))
denied("write .git/hooks/post-checkout", lambda: open(".git/hooks/post-checkout", "w").write(hook))
denied("create .git/commondir", lambda: touch(".git/commondir"))
denied("create .git/objects/info/alternates", lambda: touch(".git/objects/info/alternates"))
denied("append .git/info/exclude", lambda: append(".git/info/exclude"))
denied("mkdir .git/worktrees", lambda: os.mkdir(".git/worktrees"))
denied("mkdir .git/.git", lambda: os.mkdir(".git/.git"))
denied("symlink .git/refs/l", lambda: os.symlink("/etc", ".git/refs/l"))
denied("rename .git", lambda: os.rename(".git", "g"))
denied("RENAME_EXCHANGE sub and .git", lambda: renameat2("sub", ".git", EXCHANGE))
denied("move a file into .git (EXDEV)", lambda: os.rename("w", ".git/refs/w"))
allowed("create .git/refs/heads/guest", lambda: touch(".git/refs/heads/guest"))
os.unlink(".git/refs/heads/guest")
# --- existing repositories ---------------------------------------------------------------
denied("append vendor/lib/.git/config", lambda: append("vendor/lib/.git/config"))
denied("hook in vendor/lib/.git", lambda: open("vendor/lib/.git/hooks/pre-commit", "w").write(hook))
denied("O_TRUNC vendor/lib/.git/HEAD", lambda: os.close(os.open("vendor/lib/.git/HEAD", os.O_WRONLY | os.O_TRUNC)))
denied("rename vendor/lib/.git", lambda: os.rename("vendor/lib/.git", "vendor/lib/g"))
denied("link vendor/lib/.git/config out", lambda: os.link("vendor/lib/.git/config", "cfg"))
denied("create bare.git/hooks/update", lambda: touch("bare.git/hooks/update"))
denied("append bare.git/config", lambda: append("bare.git/config"))
denied("rename bare.git", lambda: os.rename("bare.git", "b2"))
denied("RENAME_EXCHANGE sub and bare.git", lambda: renameat2("sub", "bare.git", EXCHANGE))
# --- PROTECT -----------------------------------------------------------------------------
denied("append kept/dir/k", lambda: append("kept/dir/k"))
denied("append hardlink-k (the host's other name)", lambda: append("hardlink-k"))
denied("create kept/dir/new", lambda: touch("kept/dir/new"))
denied("unlink kept/dir/k", lambda: os.unlink("kept/dir/k"))
denied("rename kept", lambda: os.rename("kept", "k2"))
denied("append keep/deep/file", lambda: append("keep/deep/file"))
allowed("mkdir later", lambda: os.mkdir("later"))
denied("mkdir later/x (a PROTECT path not there yet)", lambda: os.mkdir("later/x"))
# --- privileges --------------------------------------------------------------------------
touch("p")
allowed("chmod 4755 (accepted)", lambda: os.chmod("p", 0o4755))
res("no setuid bit", not os.stat("p").st_mode & (stat.S_ISUID | stat.S_ISGID), oct(os.stat("p").st_mode))
allowed("mkdir 2775 (accepted)", lambda: os.mkdir("sg", 0o2775))
res("no setgid bit on a folder", not os.stat("sg").st_mode & stat.S_ISGID)
allowed("chown 1234:1234 (accepted)", lambda: os.chown("p", 1234, 1234))
res("chown not applied", os.stat("p").st_uid != 1234, "uid=%d" % os.stat("p").st_uid)
denied("mknod char 1:3", lambda: os.mknod("c", stat.S_IFCHR | 0o666, os.makedev(1, 3)))
denied("mknod block 8:0", lambda: os.mknod("b", stat.S_IFBLK | 0o666, os.makedev(8, 0)))
denied("mkfifo", lambda: os.mkfifo("fifo"))
denied("RENAME_WHITEOUT", lambda: renameat2("p", "p2", WHITEOUT))
cap = bytes.fromhex("0000000200200000000000000000000000000000")
denied("security.capability", lambda: os.setxattr("p", "security.capability", cap))
denied("trusted.x", lambda: os.setxattr("p", "trusted.x", b"1"))
allowed("user.x", lambda: os.setxattr("p", "user.x", b"1"))
allowed("a unix socket", lambda: socket.socket(socket.AF_UNIX).bind("sock"))
# --- ordinary work -----------------------------------------------------------------------
def work():
    os.makedirs("work/a/b")
    with open("work/a/b/f", "w") as f:
        f.write("hello\n" * 1000)
        f.flush()
        os.fsync(f.fileno())
    os.rename("work/a/b/f", "work/a/g")
    os.link("work/a/g", "work/a/h")
    with open("work/a/h", "r+b") as f:
        m = mmap.mmap(f.fileno(), 0)
        m[0:5] = b"HELLO"
        m.flush()
        m.close()
    assert open("work/a/g").read(5) == "HELLO"
    os.truncate("work/a/g", 3)
    assert os.stat("work/a/h").st_size == 3
    os.close(os.open("work/a/g", os.O_WRONLY | os.O_TRUNC))
    import fcntl, shutil
    with open("work/a/g", "w") as f:
        fcntl.lockf(f, fcntl.LOCK_EX)
        fcntl.flock(f, fcntl.LOCK_EX)
    os.statvfs(".")
    shutil.rmtree("work")
allowed("ordinary work (write, fsync, rename, link, mmap, truncate, O_TRUNC, locks, rm -r)", work)
sys.exit(1 if fails else 0)
