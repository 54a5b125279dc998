"""An overlay sandbox that records every filesystem change a command makes.

The commands run in a private mount namespace, chrooted into an overlay whose lower layer is
the host's root filesystem and whose upper layer is a tmpfs that lives only inside that
namespace. Whatever a command creates, changes or deletes anywhere under ``/`` lands in the
upper layer (a deletion as a whiteout, a replaced directory as an opaque one), so listing it
after each command proves what the command touched, and the host is never changed even when
podself has a bug. ``/dev/shm`` is a tmpfs of its own, listed the same way; ``/dev`` holds
only the harmless device nodes, so nothing can delete the host's.

Needs root, ``unshare`` and overlayfs (Linux); :func:`available` says whether they work.
The driver half of this module runs inside the namespace: ``python sandbox.py WORKDIR``
reads a JSON list of cases on stdin and prints one JSON result per case.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

_DEVICES: Final = ("null", "zero", "full", "random", "urandom", "tty")
_OUTPUT_TAIL: Final = 4000


@dataclass(frozen=True)
class Case:
    """One command to run in the sandbox; ``allowed`` are the paths it may change."""

    id: str
    argv: Sequence[str]
    allowed: Sequence[str] = ()
    cwd: str = "/"
    env: Mapping[str, str] | None = None
    user: int | None = None  # run as this uid (and gid) instead of root
    timeout: float = 60.0


@dataclass(frozen=True)
class Outcome:
    """What a case did: exit status, output tails and every change outside ``allowed``."""

    id: str
    returncode: int | None
    stdout: str
    stderr: str
    changes: list[str]  # "<kind> <path>" outside the allowed paths
    allowed_changes: list[str]
    seconds: float


@functools.cache
def available() -> str | None:
    """None when the sandbox works here, else why not (tried once: an overlay of ``/`` in a
    throw-away mount namespace)."""
    if not sys.platform.startswith("linux"):
        return "the overlay sandbox needs Linux"
    if os.geteuid() != 0:
        return "the overlay sandbox needs root (mount namespaces and overlayfs)"
    if shutil.which("unshare") is None:
        return "the overlay sandbox needs unshare(1)"
    with tempfile.TemporaryDirectory(prefix="podself-sandbox-probe-") as work:
        probe = (
            f"mount -t tmpfs probe {work} && mkdir {work}/u {work}/w {work}/m && "
            f"mount -t overlay overlay -o lowerdir=/,upperdir={work}/u,workdir={work}/w {work}/m"
        )
        done = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", probe],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    if done.returncode != 0:
        return f"cannot mount an overlay of / here: {done.stderr.strip()[:200]}"
    return None


def run_cases(cases: Sequence[Case], workdir: Path) -> dict[str, Outcome]:
    """Run ``cases`` one after another, each in a fresh sandbox; ``workdir`` must be an empty
    directory on the host (the sandboxes' tmpfs mounts go under it, inside the namespace)."""
    payload = json.dumps(
        [
            {
                "id": c.id,
                "argv": list(c.argv),
                "allowed": list(c.allowed),
                "cwd": c.cwd,
                "env": dict(c.env) if c.env is not None else None,
                "user": c.user,
                "timeout": c.timeout,
            }
            for c in cases
        ]
    )
    budget = sum(c.timeout for c in cases) + 60
    proc = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", sys.executable, __file__, str(workdir)],
        input=payload,
        capture_output=True,
        text=True,
        timeout=budget,
        check=False,
    )
    if proc.returncode != 0:
        msg = f"sandbox driver failed ({proc.returncode}): {proc.stderr[-_OUTPUT_TAIL:]}"
        raise RuntimeError(msg)
    results = {}
    for line in proc.stdout.splitlines():
        data = json.loads(line)
        results[data["id"]] = Outcome(**data)
    return results


# --- the driver, inside the mount namespace ----------------------------------------------------


_MS_BIND: Final = 0x1000
_MS_REC: Final = 0x4000
_MNT_DETACH: Final = 0x2


def _libc() -> Any:
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


def _mount(source: str, target: str, fstype: str = "", flags: int = 0, data: str = "") -> None:
    import ctypes

    if _libc().mount(source.encode(), target.encode(), fstype.encode(), flags, data.encode()):
        err = ctypes.get_errno()
        raise OSError(err, f"mount {source} on {target}: {os.strerror(err)}")


def _layer(work: str, number: int) -> str:
    """A fresh sandbox (its own tmpfs, overlay, /proc, /sys, /dev) for case ``number``; every
    case gets its own, so what one case destroys cannot change the next."""
    top = os.path.join(work, str(number))
    os.mkdir(top, 0o700)
    _mount("sandbox", top, "tmpfs", 0, "mode=0700")
    upper, lower_work, root, shm = (os.path.join(top, d) for d in ("upper", "work", "root", "shm"))
    for path in (upper, lower_work, root, shm):
        os.mkdir(path, 0o755)
    _mount("overlay", root, "overlay", 0, f"lowerdir=/,upperdir={upper},workdir={lower_work}")
    _mount("/proc", os.path.join(root, "proc"), "", _MS_BIND | _MS_REC)
    _mount("/sys", os.path.join(root, "sys"), "", _MS_BIND | _MS_REC)
    # /dev: only harmless nodes, each bound onto a file in the overlay (recorded as set-up).
    dev = os.path.join(root, "dev")
    os.makedirs(dev, exist_ok=True)
    for name in _DEVICES:
        if os.path.exists(f"/dev/{name}"):
            target = os.path.join(dev, name)
            if not os.path.exists(target):
                open(target, "w").close()
            _mount(f"/dev/{name}", target, "", _MS_BIND)
    for name in ("pts", "shm"):
        os.makedirs(os.path.join(dev, name), exist_ok=True)
    if os.path.isdir("/dev/pts"):
        _mount("/dev/pts", os.path.join(dev, "pts"), "", _MS_BIND)
    _mount(shm, os.path.join(dev, "shm"), "", _MS_BIND)
    # An unprivileged case must be able to start this interpreter (which may live under a
    # private /root): its directories become traversable, in the overlay only.
    for start in {os.path.realpath(sys.executable), os.path.realpath(sys.prefix)}:
        path = os.path.dirname(start)
        while path != "/":
            inner = root + path
            os.chmod(inner, os.stat(inner).st_mode | 0o111)
            path = os.path.dirname(path)
    return top


def _discard(top: str) -> None:
    # A lazy unmount detaches the overlay and everything bound under it, even while a
    # leftover process still uses it; the tmpfs holding the layers goes with it.
    _libc().umount2(os.path.join(top, "root").encode(), _MNT_DETACH)
    _libc().umount2(top.encode(), _MNT_DETACH)


def _entries(top: str, prefix: str) -> Iterator[tuple[str, str]]:
    """(path as seen in the sandbox, signature) for everything under ``top``; iterative, as a
    command may leave trees deeper than the recursion limit."""
    pending = [top]
    while pending:
        directory = pending.pop()
        with os.scandir(directory) as listing:
            children = list(listing)
        for entry in children:
            st = entry.stat(follow_symlinks=False)
            rel = prefix + entry.path[len(top) :]
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                yield rel, "deleted"
            elif stat.S_ISDIR(st.st_mode):
                pending.append(entry.path)
                try:
                    opaque = os.getxattr(
                        entry.path, "trusted.overlay.opaque", follow_symlinks=False
                    )
                except OSError:
                    opaque = b""
                yield rel, "replaced-dir" if opaque == b"y" else f"dir {st.st_mode:o}"
            elif stat.S_ISLNK(st.st_mode):
                yield rel, f"link {os.readlink(entry.path)}"
            else:
                yield rel, f"file {st.st_mode:o} {st.st_size} {st.st_mtime_ns}"


def _snapshot(top: str) -> dict[str, str]:
    found = dict(_entries(os.path.join(top, "upper"), ""))
    found.update(_entries(os.path.join(top, "shm"), "/dev/shm"))
    return found


def _inside(path: str, allowed: Sequence[str]) -> bool:
    return any(path == a or path.startswith(a.rstrip("/") + "/") for a in allowed)


def _is_ancestor(path: str, signature: str, allowed: Sequence[str]) -> bool:
    # Creating /a/b/state copies /a and /a/b up into the upper layer: a plain directory there
    # is not a change, a whiteout or an opaque (emptied) directory is.
    return signature.startswith("dir ") and any(
        a.startswith(path.rstrip("/") + "/") for a in allowed
    )


def _run(case: Mapping[str, Any], root: str) -> tuple[int | None, str, str]:
    user = case["user"]

    def enter() -> None:
        os.chroot(root)
        os.chdir(case["cwd"])
        if user is not None:
            os.setgroups([])
            os.setgid(user)
            os.setuid(user)

    env = case["env"]
    if env is None:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONDONTWRITEBYTECODE": "1"}
    try:
        proc = subprocess.run(
            case["argv"],
            preexec_fn=enter,
            env=env,
            capture_output=True,
            timeout=case["timeout"],
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout or b""
        err = (exc.stderr or b"") + b"\n[sandbox: timed out]"
        return None, out.decode(errors="replace"), err.decode(errors="replace")
    return (
        proc.returncode,
        proc.stdout.decode(errors="replace")[-_OUTPUT_TAIL:],
        proc.stderr.decode(errors="replace")[-_OUTPUT_TAIL:],
    )


def _drive(work: str) -> None:
    cases = json.loads(sys.stdin.read())
    for number, case in enumerate(cases):
        top = _layer(work, number)
        before = _snapshot(top)
        started = time.monotonic()
        try:
            returncode, out, err = _run(case, os.path.join(top, "root"))
        except subprocess.SubprocessError as exc:
            returncode, out, err = None, "", f"[sandbox: could not start: {exc}]"
        seconds = round(time.monotonic() - started, 3)
        after = _snapshot(top)
        _discard(top)
        changes, allowed_changes = [], []
        for path in sorted(set(before) | set(after)):
            old, new = before.get(path), after.get(path)
            if old == new:
                continue
            line = f"{new or 'vanished'} {path}"
            if _inside(path, case["allowed"]) or (
                new is not None and _is_ancestor(path, new, case["allowed"])
            ):
                allowed_changes.append(line)
            else:
                changes.append(line)
        result = {
            "id": case["id"],
            "returncode": returncode,
            "stdout": out,
            "stderr": err,
            "changes": changes,
            "allowed_changes": allowed_changes,
            "seconds": seconds,
        }
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    _drive(sys.argv[1])
