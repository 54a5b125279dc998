"""Hostile manifests against the emulator, in an overlay sandbox that records every change.

Each manifest attacks a place where a manifest string becomes a path, a mode, a link or a
count: names and namespaces, container and volume names, mountPaths, subPaths, item paths,
modes, symlinks, deep trees and large counts. Each runs with ``podself run`` as root with
mount namespaces, as root with ``--no-namespace``, and as an unprivileged user; each must
either be refused with the API server's (or kubelet's) message or run, and in every case
nothing outside the run's own state directory may be created, changed or deleted anywhere
on the machine (the sandbox sees all of ``/`` and ``/dev/shm``). Then ``label``,
``annotate`` and ``get`` get the same hostile names on their command lines.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests import sandbox

pytestmark = pytest.mark.skipif(sandbox.available() is not None, reason=str(sandbox.available()))

NOBODY = 65534
PODSELF = (sys.executable, "-m", "podself")
DEEP = 1200  # levels of directories a container leaves in an emptyDir


@dataclass(frozen=True)
class Attack:
    """A manifest (or documents) and what must happen: ``refused`` with these fragments in
    the error, ``runs`` to exit 0, or either (``refused=None``)."""

    id: str
    documents: Sequence[Mapping[str, Any]]
    refused: bool | None = True
    says: Sequence[str] = ()
    modes: Sequence[str] = ("ns", "nons", "nobody")
    extra_args: Sequence[str] = ()
    runs_twice: bool = False
    state_link: bool = False
    timeout: float = 20.0
    notes: Mapping[str, str] = field(default_factory=dict)


def container(name: str = "app", script: str = "true", **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": "busybox", "command": ["sh", "-c", script], **extra}


def pod(
    name: str | None = "hostile",
    *,
    namespace: str | None = None,
    containers: Sequence[Mapping[str, Any]] | None = None,
    init: Sequence[Mapping[str, Any]] = (),
    volumes: Sequence[Mapping[str, Any]] = (),
    metadata: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = dict(metadata or {})
    if name is not None:
        meta["name"] = name
    if namespace is not None:
        meta["namespace"] = namespace
    spec: dict[str, Any] = {"containers": list(containers or [container()])}
    if init:
        spec["initContainers"] = list(init)
    if volumes:
        spec["volumes"] = list(volumes)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def mounted(volume: Mapping[str, Any], *, script: str = "true", **mount: Any) -> dict[str, Any]:
    """A pod with ``volume`` mounted in its one container (``mountPath`` /data by default)."""
    return pod(
        containers=[
            container(
                script=script,
                volumeMounts=[{"name": volume["name"], "mountPath": "/data", **mount}],
            )
        ],
        volumes=[volume],
    )


def downward(items: Sequence[Mapping[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"name": "podinfo", "downwardAPI": {"items": list(items), **extra}}


def name_item(path: str, **extra: Any) -> dict[str, Any]:
    return {"path": path, "fieldRef": {"fieldPath": "metadata.name"}, **extra}


CONFIG = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "cfg"},
    "data": {"authorized_keys": "ssh-ed25519 AAAA attacker"},
}
SECRET = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "sec"},
    "data": {"key": "c2VjcmV0"},
}
DNS_LABEL = "a lowercase RFC 1123 label must consist of"
DNS_SUBDOMAIN = "a lowercase RFC 1123 subdomain must consist of"
MODE = "must be a number between 0 and 0777 (octal), both inclusive"
TOO_LONG_LABEL = "must be no more than 63 characters"
IN_DATA = 'cd "${PODSELF_ROOT:-}/data"'
DIG = f"i=0; while [ $i -lt {DEEP} ]; do mkdir d; cd d; i=$((i+1)); done"


def attacks() -> Iterator[Attack]:
    # Names and namespaces become <state>/<namespace>/<name>.
    for ns, name in (
        ("../../home", "alice"),
        ("/", "etc"),
        ("/etc", "passwd"),
        ("..", ".."),
        ("../../..", "tmp"),
        ("a/b", "c"),
        ("UPPER", "ok"),
        ("x" * 64, "ok"),
    ):
        says = [TOO_LONG_LABEL] if len(ns) > 63 else [DNS_LABEL]
        yield Attack(f"namespace={ns[:12]}/{name}", [pod(name, namespace=ns)], says=says)
    for name in (".", "..", "../x", "/", "/etc", "a/b", "a\x00b", "Alice", "a" * 254, "x\udcffy"):
        rule = "must be no more than 253 characters" if len(name) > 253 else DNS_SUBDOMAIN
        yield Attack(f"name={name[:12]!r}", [pod(name)], says=["metadata.name", rule])
    yield Attack("generateName=../", [pod(None, metadata={"generateName": "../../"})])
    yield Attack("flag -n ../..", [pod()], extra_args=["-n", "../.."], says=["../..", DNS_LABEL])
    # hostname and subdomain become lines of the pod's /etc/hosts and its UTS hostname.
    for key in ("hostname", "subdomain"):
        hostile = pod()
        hostile["spec"][key] = "a\n6.6.6.6 evil"
        yield Attack(f"{key} with a newline", [hostile], says=[f"spec.{key}", DNS_LABEL])
    # The grace period times every stop: beyond int64 it made --timeout wait for ever.
    hostile = pod(containers=[container(script="trap '' TERM; sleep 30")])
    hostile["spec"]["terminationGracePeriodSeconds"] = 10**30
    yield Attack("grace period 10**30", [hostile], says=["spec.terminationGracePeriodSeconds"])
    # Container and volume names become per-container and per-volume directories.
    for name in ("../../..", "a/b", ".", "..", "App", "x" * 64):
        says = [TOO_LONG_LABEL] if len(name) > 63 else [DNS_LABEL]
        yield Attack(f"container={name[:12]}", [pod(containers=[container(name)])], says=says)
        yield Attack(
            f"init={name[:12]}",
            [pod(init=[container(name)], containers=[container()])],
            says=says,
        )
        yield Attack(
            f"volume={name[:12]}",
            [
                pod(
                    containers=[container(volumeMounts=[{"name": name, "mountPath": "/data"}])],
                    volumes=[{"name": name, "emptyDir": {}}],
                )
            ],
            says=says,
        )
    # mountPaths: the API server accepts relative ones; they must stay in the container.
    for path in ("../../../../root/.ssh", "data/../../../etc", "/etc/../../root/.ssh", "/", "rel"):
        yield Attack(
            f"mountPath={path}",
            [
                {
                    **mounted({"name": "cfg", "configMap": {"name": "cfg"}}, mountPath=path),
                },
                CONFIG,
            ],
            refused=None,
        )
    yield Attack("mountPath=''", [mounted({"name": "e", "emptyDir": {}}, mountPath="")])
    yield Attack("mountPath=NUL", [mounted({"name": "e", "emptyDir": {}}, mountPath="/a\x00b")])
    # subPaths.
    for sub in ("../../etc", "/etc", "a/../../b", ".."):
        yield Attack(
            f"subPath={sub}",
            [mounted({"name": "e", "emptyDir": {}}, subPath=sub)],
            says=["subPath"],
        )
    yield Attack(
        "subPath+subPathExpr",
        [mounted({"name": "e", "emptyDir": {}}, subPath="a", subPathExpr="b")],
        says=["subPathExpr"],
    )
    yield Attack(
        "subPathExpr expands to ..",
        [
            pod(
                containers=[
                    container(
                        env=[{"name": "UP", "value": ".."}],
                        volumeMounts=[{"name": "e", "mountPath": "/data", "subPathExpr": "$(UP)"}],
                    )
                ],
                volumes=[{"name": "e", "emptyDir": {}}],
            )
        ],
        refused=None,
    )
    yield Attack(
        "subPath symlink to /etc",
        [
            pod(
                init=[
                    container(
                        "plant",
                        f"{IN_DATA} && ln -s /etc evil && ln -s ../../../../../../etc rel",
                        volumeMounts=[{"name": "e", "mountPath": "/data"}],
                    )
                ],
                containers=[
                    container(
                        "app",
                        "echo pwned > /data/x",
                        volumeMounts=[{"name": "e", "mountPath": "/data", "subPath": "evil"}],
                    ),
                    container(
                        "app2",
                        "echo pwned > /data/x",
                        volumeMounts=[{"name": "e", "mountPath": "/data", "subPath": "rel"}],
                    ),
                ],
                volumes=[{"name": "e", "emptyDir": {}}],
            )
        ],
        refused=None,
    )
    # Item paths inside volumes.
    for path in ("../x", "/etc/x", "..data/x", "..x", "a/../../x", "a\x00b"):
        yield Attack(f"downward path={path!r}", [mounted(downward([name_item(path)]))])
        yield Attack(
            f"configMap path={path!r}",
            [
                mounted(
                    {
                        "name": "cfg",
                        "configMap": {
                            "name": "cfg",
                            "items": [{"key": "authorized_keys", "path": path}],
                        },
                    }
                ),
                CONFIG,
            ],
        )
    # 2,000 directories (4 KiB, the API server's limit): no recursion, PATH_MAX is an error.
    yield Attack(
        "downward path 2,000 levels",
        [mounted(downward([name_item("/".join(["d"] * 2000))]))],
        refused=None,
    )
    # Modes: nothing setuid, setgid or sticky, nothing out of range.
    for mode in (0o4755, 0o2755, 0o1777, 0o7777, -1, 2**31, 0o1000):
        yield Attack(
            f"downward defaultMode={mode:o}",
            [mounted(downward([name_item("n")], defaultMode=mode))],
        )
        yield Attack(
            f"secret defaultMode={mode:o}",
            [
                mounted({"name": "sec", "secret": {"secretName": "sec", "defaultMode": mode}}),
                SECRET,
            ],
        )
        yield Attack(
            f"configMap item mode={mode:o}",
            [
                mounted(
                    {
                        "name": "cfg",
                        "configMap": {
                            "name": "cfg",
                            "items": [{"key": "authorized_keys", "path": "k", "mode": mode}],
                        },
                    }
                ),
                CONFIG,
            ],
        )
        yield Attack(
            f"projected defaultMode={mode:o}",
            [
                mounted(
                    {
                        "name": "p",
                        "projected": {
                            "defaultMode": mode,
                            "sources": [{"downwardAPI": {"items": [name_item("n")]}}],
                        },
                    }
                )
            ],
        )
    # Sizes and counts.
    yield Attack(
        "annotations over 256 KiB",
        [pod(metadata={"annotations": {"a": "x" * (256 * 1024)}})],
        says=["metadata.annotations", "Too long"],
    )
    yield Attack(
        "500 downward items",
        [mounted(downward([name_item(f"d{i}/n") for i in range(500)]))],
        refused=False,
        modes=("ns", "nobody"),
    )
    yield Attack(
        "40 containers",
        [pod(containers=[container(f"c{i}") for i in range(40)])],
        refused=False,
        modes=("ns",),
    )
    yield Attack(
        f"emptyDir {DEEP} levels deep, twice",
        [
            mounted(
                {"name": "e", "emptyDir": {}},
                script=f"{IN_DATA} && {DIG}",
            )
        ],
        refused=False,
        runs_twice=True,
    )
    # A state directory that is a symlink to a system directory.
    yield Attack("state dir links to /etc", [pod()], refused=None, state_link=True, modes=("ns",))


ATTACKS = list(attacks())

# The same names given on the command line of the commands that find a pod's state.
CLI_ATTACKS = [
    ("label", "../../etc", "k=v"),
    ("label", "/etc", "k=v"),
    ("label", "..", "k=v", "--overwrite"),
    ("annotate", "-n", "../..", "tmp", "k=v"),
    ("annotate", "-n", "/", "etc", "k-"),
    ("annotate", "x\udcffy", "k=v"),
    ("get", "pods", "-n", "../../etc"),
    ("get", "pods", "-n", "/"),
    ("get", "pods", "../../.."),
]


def _write(path: Path, documents: Sequence[Mapping[str, Any]]) -> list[str]:
    files = []
    for index, document in enumerate(documents):
        target = path / f"{index}.json"
        # ensure_ascii keeps NUL and lone surrogates as JSON escapes, as an attacker writes them.
        target.write_text(json.dumps(document, ensure_ascii=True), encoding="ascii")
        files += ["-f", str(target)]
    return files


def cases(base: Path) -> list[sandbox.Case]:
    """Every attack in every mode, with its files written under ``base``."""
    result: list[sandbox.Case] = []
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONPATH": os.pathsep.join(sys.path),
        "HOME": "/nonexistent",
    }
    for number, attack in enumerate(ATTACKS):
        case_dir = base / f"case{number}"
        case_dir.mkdir(mode=0o755)
        files = _write(case_dir, attack.documents)
        for mode in attack.modes:
            state = base / f"state-{mode}-{number}"
            user: int | None = None
            args = [*PODSELF, "run", *files, "--timeout", "10", "--grace", "2"]
            if mode == "nons":
                args.append("--no-namespace")
            if mode == "nobody":
                user = NOBODY
                owned = base / f"home-{number}"
                owned.mkdir(mode=0o700)
                os.chown(owned, NOBODY, NOBODY)
                state = owned / "state"
            if attack.state_link:
                link = base / f"link-{mode}-{number}"
                link.symlink_to("/etc")
                args += ["--state-dir", str(link)]
            else:
                args += ["--state-dir", str(state)]
            args += list(attack.extra_args)
            for round_ in range(2 if attack.runs_twice else 1):
                result.append(
                    sandbox.Case(
                        id=f"{attack.id}|{mode}|{round_}",
                        argv=args,
                        allowed=[str(state)],
                        cwd=str(case_dir),
                        env=env,
                        user=user,
                        timeout=attack.timeout,
                    )
                )
    for argv in CLI_ATTACKS:
        state = base / f"state-cli-{len(result)}"
        result.append(
            sandbox.Case(
                id=" ".join(argv),
                argv=[*PODSELF, *argv, "--state-dir", str(state)],
                allowed=[str(state)],
                env=env,
                timeout=20,
            )
        )
    return result


@pytest.fixture(scope="module")
def outcomes() -> Iterator[dict[str, sandbox.Outcome]]:
    base = Path(tempfile.mkdtemp(prefix="podself-hostile-"))
    try:
        os.chmod(base, 0o755)
        work = base / "sandbox"
        work.mkdir()
        yield sandbox.run_cases(cases(base), work)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _params() -> list[Any]:
    params = []
    for attack in ATTACKS:
        for mode in attack.modes:
            for round_ in range(2 if attack.runs_twice else 1):
                params.append(
                    pytest.param(
                        attack, f"{attack.id}|{mode}|{round_}", id=f"{attack.id}|{mode}|{round_}"
                    )
                )
    return params


@pytest.mark.parametrize(("attack", "key"), _params())
def test_attack(attack: Attack, key: str, outcomes: Mapping[str, sandbox.Outcome]) -> None:
    outcome = outcomes[key]
    report = f"exit {outcome.returncode}\nstderr: {outcome.stderr}\nstdout: {outcome.stdout}"
    assert outcome.changes == [], f"changed outside its state dir:\n{outcome.changes}\n{report}"
    assert outcome.returncode is not None, f"did not finish\n{report}"
    assert "Traceback" not in outcome.stderr, report
    if attack.refused is True:
        assert outcome.returncode in (1, 2), report
        for fragment in attack.says:
            assert fragment in outcome.stderr, f"{fragment!r} missing\n{report}"
        # Refused before touching the disk: not even the state directory was made.
        assert outcome.allowed_changes == [], f"wrote before refusing: {outcome.allowed_changes}"
    elif attack.refused is False:
        assert outcome.returncode == 0, report


@pytest.mark.parametrize("argv", CLI_ATTACKS, ids=" ".join)
def test_command_line_names(argv: tuple[str, ...], outcomes: Mapping[str, sandbox.Outcome]) -> None:
    outcome = outcomes[" ".join(argv)]
    report = f"exit {outcome.returncode}\nstderr: {outcome.stderr}\nstdout: {outcome.stdout}"
    assert outcome.changes == [], f"changed outside its state dir:\n{outcome.changes}\n{report}"
    assert outcome.allowed_changes == [], f"wrote before refusing: {outcome.allowed_changes}"
    assert outcome.returncode in (1, 2), report
    assert "Traceback" not in outcome.stderr, report
