"""Tests for podself.integrations: gunicorn, uvicorn, concurrent.futures and asyncio helpers."""

from __future__ import annotations

import asyncio
import functools
import importlib
import json
import logging
import os
import runpy
import signal
import subprocess
import sys
import textwrap
import threading
import time
import types
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from podself.integrations import pools
from podself.pod import PodInfo, Resources
from podself.testing import FakePod
from podself.tuning import Host, Plan, Policy, plan

GIB = 1 << 30
WAIT = 30.0  # a deadline for slow machines, not a measurement
PodEnviron = Callable[..., None]


def make_plan(millicores: int, memory_gib: int = 1, **policy: object) -> Plan:
    """A plan for a pod with these limits, independent of this machine."""
    info = PodInfo(resources=Resources(cpu_limit=millicores, memory_limit=memory_gib * GIB))
    return plan(info, Policy(**policy), host=Host())  # type: ignore[arg-type]


@pytest.fixture(name="pod_environ")
def _pod_environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[PodEnviron]:
    """Point the process environment at a FakePod with the given limits."""

    def apply(limits: dict[str, str], **extra: str) -> None:
        fake = FakePod(tmp_path, limits=limits)
        for key in list(os.environ):
            if key.startswith(("PODSELF_", "RESOURCE_", "K8S_", "WEB_CONCURRENCY")):
                monkeypatch.delenv(key)
        for key, value in {**fake.environ, **extra}.items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("PODSELF_ROOT", str(fake.root))
        monkeypatch.setenv("PODSELF_PROC_ROOT", str(fake.proc_root))
        import podself

        podself.refresh()

    yield apply
    import podself

    monkeypatch.undo()
    podself.refresh()


def fresh_gunicorn_module() -> types.ModuleType:
    """Import (or re-import) the gunicorn settings module so it reads the current env."""
    name = "podself.integrations.gunicorn"
    if name in sys.modules:
        return importlib.reload(sys.modules[name])
    return importlib.import_module(name)


class TestGunicorn:
    """``from podself.integrations.gunicorn import *`` gives gunicorn its settings."""

    @pytest.mark.parametrize(
        ("limits", "workers"),
        [({"cpu": "500m", "memory": "512Mi"}, 1), ({"cpu": "2000m", "memory": "2Gi"}, 2)],
    )
    def test_star_import_in_a_config_file(
        self, pod_environ: PodEnviron, tmp_path: Path, limits: dict[str, str], workers: int
    ) -> None:
        """A gunicorn.conf.py with the star import defines workers, threads and the hooks."""
        pod_environ(limits)
        module = fresh_gunicorn_module()
        conf = tmp_path / "gunicorn.conf.py"
        conf.write_text("from podself.integrations.gunicorn import *\nbind = '0.0.0.0:8000'\n")
        namespace = runpy.run_path(str(conf))
        settings = {k: v for k, v in namespace.items() if not k.startswith("__")}
        hooks = {name: getattr(module, name) for name in ("pre_fork", "post_fork", "when_ready")}
        assert settings == {"workers": workers, "threads": 1, "bind": "0.0.0.0:8000", **hooks}

    def test_web_concurrency_wins(self, pod_environ: PodEnviron) -> None:
        """WEB_CONCURRENCY set by the user (or podself exec) is what gunicorn gets."""
        pod_environ({"cpu": "2", "memory": "2Gi"}, WEB_CONCURRENCY="5")
        module = fresh_gunicorn_module()
        assert (module.workers, module.current_plan.workers) == (5, 2)

    def test_memory_cap_from_env_knob(self, pod_environ: PodEnviron) -> None:
        """PODSELF_WORKER_MEMORY_MB caps gunicorn workers by memory."""
        pod_environ({"cpu": "8", "memory": "1Gi"}, PODSELF_WORKER_MEMORY_MB="300")
        module = fresh_gunicorn_module()
        assert module.workers == 3
        assert "300 MB per worker" in module.describe()

    def test_settings_function(self, caplog: pytest.LogCaptureFixture) -> None:
        """settings() maps a plan to gunicorn names; a bad WEB_CONCURRENCY is ignored loudly."""
        from podself.integrations.gunicorn import settings

        current = make_plan(4000, max_workers=2)
        assert settings(current, environ={}) == {"workers": 2, "threads": 2}
        with caplog.at_level(logging.WARNING, logger="podself"):
            assert settings(current, environ={"WEB_CONCURRENCY": "many"})["workers"] == 2
        assert any("WEB_CONCURRENCY" in r.getMessage() for r in caplog.records)


def resize(fake: FakePod | Path, millicores: int) -> None:
    """Rewrite a fake pod's cgroup v2 CPU quota in one step, as an in-place resize does."""
    root = fake if isinstance(fake, Path) else fake.root
    (path,) = root.glob("sys/fs/cgroup/**/cpu.max")
    tmp = path.with_name("cpu.max.tmp")
    tmp.write_text(f"{millicores * 100} 100000\n")
    os.replace(tmp, path)


def live_children(pid: int, marker: bytes = b"") -> list[int]:
    """Pids of the processes whose parent is ``pid``, that have not exited and whose command
    line holds ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        state, ppid = stat.rpartition(")")[2].split()[:2]
        if int(ppid) == pid and state != "Z" and marker in cmdline:
            found.append(int(entry.name))
    return found


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def wait_workers(pid: int, count: int, marker: bytes = b"") -> None:
    """Wait until ``pid`` has ``count`` live workers (children with ``marker``)."""
    wait_until(lambda: len(live_children(pid, marker)) == count, f"{count} workers")


@pytest.fixture(name="cpu_cgroup")
def _cpu_cgroup() -> Iterator[Path]:
    """A real cgroup v1 CPU group with a 2-CPU quota, under this process's own; removed after
    the test (which ends the processes it put there)."""
    own = "/"
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if "cpu" in controllers.split(","):
            own = path
    parent = Path("/sys/fs/cgroup/cpu") / own.lstrip("/")
    if os.geteuid() != 0 or not (parent / "cpu.cfs_quota_us").is_file():
        pytest.skip("needs root and a cgroup v1 cpu controller")
    group = parent / f"podself-test-{os.getpid()}"
    group.mkdir()
    try:
        (group / "cpu.cfs_period_us").write_text("100000\n")
        (group / "cpu.cfs_quota_us").write_text("200000\n")
        yield group
    finally:
        group.rmdir()


# Each worker, once booted, writes its pid, index env and log record field to a file.
WORKER_APP = """
import json, logging, os
record = logging.getLogRecordFactory()("t", logging.INFO, __file__, 1, "m", None, None)
seen = {"index": os.environ.get("PODSELF_WORKER_INDEX"),
        "log": record.__dict__.get("podself.worker"), "calls": os.environ.get("CALLS", "")}
out = os.path.join(os.environ["SEEN_DIR"], str(os.getpid()))
with open(out + ".tmp", "w") as f:
    json.dump(seen, f)
os.replace(out + ".tmp", out)

def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
"""


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
class TestGunicornLive:
    """A real gunicorn follows a resize of its pod's limits without restarting its arbiter."""

    def start(
        self,
        tmp_path: Path,
        config: str,
        *args: str,
        cgroup: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> tuple[FakePod, subprocess.Popen[bytes]]:
        """gunicorn in a fake pod; with ``cgroup``, in that real cgroup and reading it."""
        pytest.importorskip("gunicorn")
        fake = FakePod(tmp_path / "pod", limits={"cpu": "2", "memory": "2Gi"})
        (tmp_path / "seen").mkdir()
        (tmp_path / "workerapp.py").write_text(WORKER_APP)
        (tmp_path / "gunicorn.conf.py").write_text(textwrap.dedent(config))
        environ = {
            "PATH": os.environ.get("PATH", os.defpath),
            "PODSELF_RESIZE_INTERVAL": "0.2",
            "SEEN_DIR": str(tmp_path / "seen"),
            **(env or {}),
        }
        if cgroup is None:
            environ.update(fake.environ)
            environ.update(PODSELF_ROOT=str(fake.root), PODSELF_PROC_ROOT=str(fake.proc_root))
        argv = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", "127.0.0.1:0"]

        def enter() -> None:
            if cgroup is not None:
                (cgroup / "cgroup.procs").write_text(f"{os.getpid()}\n")

        with (tmp_path / "gunicorn.log").open("w") as log:
            proc = subprocess.Popen(
                [*argv, *args, "workerapp:app"],
                cwd=tmp_path,
                env=environ,
                stderr=log,
                preexec_fn=enter,  # noqa: PLW1509 - writes one file between fork and exec
            )
        self.procs.append(proc)
        return fake, proc

    @pytest.fixture(autouse=True)
    def _stop(self) -> Iterator[None]:
        self.procs: list[subprocess.Popen[bytes]] = []
        yield
        for proc in self.procs:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=WAIT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def seen(self, tmp_path: Path, pids: list[int]) -> list[dict[str, Any]]:
        files = [tmp_path / "seen" / str(pid) for pid in pids]
        wait_until(lambda: all(f.exists() for f in files), "workers to boot")
        return [json.loads(f.read_text()) for f in files]

    def test_resize_up_and_down(self, tmp_path: Path) -> None:
        """2 CPUs -> 2 workers; 3 CPUs -> 3 with the same arbiter; 1 CPU -> 1. Every worker
        knows its index (env and log records), unique among the live ones."""
        fake, proc = self.start(tmp_path, "from podself.integrations.gunicorn import *\n")
        for millicores, count in ((None, 2), (3000, 3), (1000, 1), (2000, 2)):
            if millicores is not None:
                resize(fake, millicores)
            wait_workers(proc.pid, count)
            assert proc.poll() is None
            indexes = [s["index"] for s in self.seen(tmp_path, live_children(proc.pid))]
            assert len(set(indexes)) == count
            assert all(i is not None and 0 <= int(i) < 3 for i in indexes)
        info = self.seen(tmp_path, live_children(proc.pid))[0]
        assert info["log"] == int(info["index"])
        log = (tmp_path / "gunicorn.log").read_text()
        assert "podself: resize to 3 workers (was 2): workers=3: cpu limit 3000m" in log
        # A reload re-reads the config file: it gets the resized count, not the start-up one.
        resize(fake, 3000)
        wait_workers(proc.pid, 3)
        before = set(live_children(proc.pid))
        proc.send_signal(signal.SIGHUP)
        wait_until(lambda: not before & set(live_children(proc.pid)), "the old workers to exit")
        wait_workers(proc.pid, 3)
        # The old workers still held 0-2 when the new ones forked: the lowest free were 3-5.
        seen = self.seen(tmp_path, live_children(proc.pid))
        assert sorted(s["index"] for s in seen) == ["3", "4", "5"]

    def test_resize_in_a_real_cgroup(self, tmp_path: Path, cpu_cgroup: Path) -> None:
        """In a real cgroup v1 CPU group (as root), changing cpu.cfs_quota_us while gunicorn
        runs changes its worker count, arbiter unchanged."""
        _, proc = self.start(
            tmp_path, "from podself.integrations.gunicorn import *\n", cgroup=cpu_cgroup
        )
        try:  # at most this machine's CPUs count: 2 CPUs, 1, then 2 again
            for quota, count in ((None, 2), (100_000, 1), (200_000, 2)):
                if quota is not None:
                    (cpu_cgroup / "cpu.cfs_quota_us").write_text(f"{quota}\n")
                wait_workers(proc.pid, count)
                assert proc.poll() is None
        finally:
            proc.terminate()
            proc.wait(WAIT)
        log = (tmp_path / "gunicorn.log").read_text()
        assert f"cpu limit 1000m (cgroup {cpu_cgroup}/cpu.cfs_quota_us)" in log

    def test_resize_before_ready(self, tmp_path: Path) -> None:
        """A resize between loading the config (2 CPUs) and when_ready is applied too."""
        config = """
        import glob, os
        from podself.integrations.gunicorn import *

        pattern = os.environ["PODSELF_ROOT"] + "/sys/fs/cgroup/**/cpu.max"
        (cpu_max,) = glob.glob(pattern, recursive=True)
        with open(cpu_max, "w") as f:
            f.write("300000 100000\\n")
        """
        _, proc = self.start(tmp_path, config)
        wait_workers(proc.pid, 3)
        assert "podself: resize to 3 workers (was 2)" in (tmp_path / "gunicorn.log").read_text()

    def test_user_hooks_compose(self, tmp_path: Path) -> None:
        """A config whose own post_fork replaces podself's still numbers its workers, and the
        user's hook runs too."""
        config = """
        import os
        from podself.integrations.gunicorn import *

        def post_fork(server, worker):
            os.environ["CALLS"] = "user"
        """
        _, proc = self.start(tmp_path, config)
        wait_workers(proc.pid, 2)
        seen = self.seen(tmp_path, live_children(proc.pid))
        assert sorted(s["index"] for s in seen) == ["0", "1"]
        assert {s["calls"] for s in seen} == {"user"}

    @pytest.mark.parametrize(("args", "env"), [(("-w", "3"), {}), ((), {"WEB_CONCURRENCY": "3"})])
    def test_a_count_set_by_the_user_is_kept(
        self, tmp_path: Path, args: tuple[str, ...], env: dict[str, str]
    ) -> None:
        """-w or WEB_CONCURRENCY other than the plan's: a resize leaves the count alone."""
        fake, proc = self.start(
            tmp_path, "from podself.integrations.gunicorn import *\n", *args, env=env
        )
        wait_workers(proc.pid, 3)
        log = (tmp_path / "gunicorn.log").read_text()
        assert "podself: 3 workers set outside the plan (which says 2)" in log
        resize(fake, 1000)
        time.sleep(1.0)  # five re-reads at 0.2 s: time to act, if it wrongly would
        assert len(live_children(proc.pid)) == 3


UVICORN_MAIN = """
from podself.integrations.uvicorn import run

async def app(scope, receive, send):
    pass

if __name__ == "__main__":
    run("main:app", host="127.0.0.1", port=0, log_level="info")
"""


class TestUvicornLive:
    """A real uvicorn started with run() follows a resize of its pod without a restart."""

    def test_resize_up_and_down(self, tmp_path: Path) -> None:
        """2 CPUs -> 2 worker processes; 3 -> 3; 1 -> 1, under the same supervisor."""
        pytest.importorskip("uvicorn")
        fake = FakePod(tmp_path / "pod", limits={"cpu": "2", "memory": "2Gi"})
        (tmp_path / "main.py").write_text(UVICORN_MAIN)
        environ = {
            "PATH": os.environ.get("PATH", os.defpath),
            **fake.environ,
            "PODSELF_ROOT": str(fake.root),
            "PODSELF_PROC_ROOT": str(fake.proc_root),
            "PODSELF_RESIZE_INTERVAL": "0.2",
        }
        with (tmp_path / "uvicorn.log").open("w") as log:
            proc = subprocess.Popen(
                [sys.executable, "main.py"], cwd=tmp_path, env=environ, stderr=log
            )
        try:
            for millicores, count in ((None, 2), (3000, 3), (1000, 1)):
                if millicores is not None:
                    resize(fake, millicores)
                wait_workers(proc.pid, count, b"spawn_main")
                assert proc.poll() is None
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(WAIT)
        text = (tmp_path / "uvicorn.log").read_text()
        assert "uvicorn: resize to 3 workers (was 2): workers=3: cpu limit 3000m" in text
        assert "Received SIGTTOU, decreasing number of processes." in text


class TestUvicorn:
    """uvicorn helpers size ``workers`` and pass it to ``uvicorn.run``."""

    def test_workers_and_config(self) -> None:
        """workers() follows the plan unless WEB_CONCURRENCY is a positive integer."""
        from podself.integrations import uvicorn as helper

        current = make_plan(3000)
        assert helper.workers(current, environ={}) == 3
        assert helper.workers(current, environ={"WEB_CONCURRENCY": "4"}) == 4
        assert helper.workers(current, environ={"WEB_CONCURRENCY": "0"}) == 3
        assert helper.config(current, environ={}) == {"workers": 3}

    def test_no_signal_before_uvicorn_handles_it(self, caplog: pytest.LogCaptureFixture) -> None:
        """SIGTTIN's default action stops the process: nothing is sent while uvicorn's
        supervisor has no handler for it (here: pytest's process)."""
        from podself.integrations.uvicorn import _Resizer

        assert signal.getsignal(signal.SIGTTIN) == signal.SIG_DFL
        resizer = _Resizer(2)
        with caplog.at_level(logging.WARNING, logger="uvicorn.error"):
            resizer(make_plan(3000), make_plan(2000))
        assert resizer.count == 2
        assert "its supervisor does not handle SIGTTIN/SIGTTOU" in caplog.text

    def test_run_calls_uvicorn(
        self, monkeypatch: pytest.MonkeyPatch, pod_environ: PodEnviron
    ) -> None:
        """run() calls uvicorn.run with the plan's workers; an explicit value wins."""
        pod_environ({"cpu": "2", "memory": "1Gi"})
        calls: list[tuple[str, dict[str, object]]] = []
        fake = types.ModuleType("uvicorn")
        fake.run = lambda app, **kw: calls.append((app, kw))  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, "uvicorn", fake)
        from podself.integrations import uvicorn as helper

        helper.run("app:app", port=8000)
        helper.run("app:app", workers=1)
        assert calls == [("app:app", {"port": 8000, "workers": 2}), ("app:app", {"workers": 1})]

    @pytest.mark.parametrize(
        ("kwargs", "web_concurrency", "follows"),
        [
            ({}, "", True),
            ({}, "2", True),  # what podself exec sets: the plan's own number
            ({}, "3", False),
            ({"workers": 2}, "", False),
            ({"reload": True}, "", False),
        ],
    )
    def test_when_run_follows_resizes(
        self,
        monkeypatch: pytest.MonkeyPatch,
        pod_environ: PodEnviron,
        kwargs: dict[str, object],
        web_concurrency: str,
        follows: bool,
    ) -> None:
        """A plan watcher runs during uvicorn.run unless the count is pinned or reloading."""
        pod_environ({"cpu": "2", "memory": "1Gi"}, WEB_CONCURRENCY=web_concurrency)
        seen: list[bool] = []
        fake = types.ModuleType("uvicorn")
        fake.run = lambda app, **kw: seen.append(  # type: ignore[attr-defined]
            any(t.name == "podself-plan" for t in threading.enumerate())
        )
        monkeypatch.setitem(sys.modules, "uvicorn", fake)
        from podself.integrations import uvicorn as helper

        helper.run("app:app", **kwargs)
        assert seen == [follows]
        assert not any(t.name == "podself-plan" for t in threading.enumerate())


def _square(value: int) -> int:
    return value * value


class TestPools:
    """concurrent.futures pools and asyncio's default executor follow the plan."""

    def test_sizes(self) -> None:
        """Processes = workers; threads = min(32, cpus + 4) as CPython does with real CPUs."""
        assert pools.process_pool_size(make_plan(2000)) == 2
        assert pools.thread_pool_size(make_plan(2000)) == 6
        assert pools.thread_pool_size(make_plan(64000)) == 32
        assert pools.process_pool_size(make_plan(8000, worker_memory_mb=512)) == 2

    def test_process_pool_runs_work(self) -> None:
        """process_pool() runs tasks with the plan's process count."""
        with pools.process_pool(current=make_plan(2000)) as pool:
            assert pool._max_workers == 2  # type: ignore[attr-defined]
            assert list(pool.map(_square, range(5))) == [0, 1, 4, 9, 16]

    def test_thread_pool_and_explicit_size(self) -> None:
        """thread_pool() names its threads; an explicit max_workers wins."""
        with pools.thread_pool(current=make_plan(1000)) as pool:
            assert pool._max_workers == 5
            name = pool.submit(lambda: threading.current_thread().name).result()
            assert name.startswith("podself")
        with pools.thread_pool(3, current=make_plan(1000)) as pool:
            assert pool._max_workers == 3

    def test_install_default_executor_running_loop(self) -> None:
        """Inside a coroutine the running loop's to_thread uses the sized pool."""

        async def main() -> tuple[int, str]:
            executor = pools.install_default_executor(current=make_plan(2000))
            name = await asyncio.to_thread(lambda: threading.current_thread().name)
            return executor._max_workers, name

        size, name = asyncio.run(main())
        assert size == 6
        assert name.startswith("podself")

    def test_install_default_executor_given_loop(self) -> None:
        """An explicit loop gets the pool even before it runs."""
        loop = asyncio.new_event_loop()
        try:
            executor = pools.install_default_executor(loop, max_workers=2)
            result = loop.run_until_complete(loop.run_in_executor(None, _square, 7))
            assert (executor._max_workers, result) == (2, 49)
        finally:
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    def test_install_default_executor_without_loop(self) -> None:
        """Outside a coroutine and without loop= it says what to do."""
        with pytest.raises(RuntimeError, match="no running event loop"):
            pools.install_default_executor(current=make_plan(1000))


class TestResizablePool:
    """A pool whose size changes while it runs: new tasks get the new size, old ones finish."""

    def test_resize_starts_a_pool_of_the_new_size(self) -> None:
        """A task running in the 1-thread pool keeps running; two tasks submitted after
        resize(2) run at the same time; the old task then completes."""
        pool = pools.ResizablePool(lambda n: ThreadPoolExecutor(max_workers=n), 1)
        release = threading.Event()
        old = pool.submit(release.wait, WAIT)
        assert pool.resize(2) is True
        assert pool.resize(2) is False
        together = threading.Barrier(2, timeout=WAIT)
        new = [pool.submit(together.wait) for _ in range(2)]
        assert sorted(f.result(WAIT) for f in new) == [0, 1]
        assert not old.done()
        release.set()
        assert old.result(WAIT) is True
        pool.shutdown()
        with pytest.raises(RuntimeError, match="after shutdown"):
            pool.submit(int)
        with pytest.raises(RuntimeError, match="after shutdown"):
            pool.resize(3)

    def test_bad_size(self) -> None:
        """Sizes are whole numbers of workers, at least 1."""
        with pytest.raises(ValueError, match="pool size 0: must be a whole number of workers"):
            pools.ResizablePool(lambda n: ThreadPoolExecutor(max_workers=n), 0)
        with pools.resizable_thread_pool(current=make_plan(1000), follow=False) as pool:
            with pytest.raises(ValueError, match="pool size True"):
                pool.resize(True)
            assert pool.size == 5

    def test_process_pool(self) -> None:
        """resizable_process_pool() runs work before and after a resize."""
        with pools.resizable_process_pool(current=make_plan(2000), follow=False) as pool:
            assert pool.size == 2
            assert list(pool.map(_square, range(4))) == [0, 1, 4, 9]
            pool.resize(1)
            assert list(pool.map(_square, range(4))) == [0, 1, 4, 9]
            assert pool._executor._max_workers == 1  # type: ignore[attr-defined]

    def test_follows_the_plan(self, pod_environ: PodEnviron, tmp_path: Path) -> None:
        """A thread pool of min(32, cpus + 4) becomes 8 threads when the pod goes from 2 CPUs
        to 4, without being recreated by the caller."""
        pod_environ({"cpu": "2", "memory": "2Gi"}, PODSELF_RESIZE_INTERVAL="0.1")
        with pools.resizable_thread_pool() as pool:
            assert pool.size == 6
            resize(tmp_path, 4000)
            wait_until(lambda: pool.size == 8, "the pool to follow the resize")
            assert (
                pool.submit(lambda: threading.current_thread().name)
                .result(WAIT)
                .startswith("podself")
            )
        assert pool.watcher is not None
        assert pool.watcher._thread is not None
        assert not pool.watcher._thread.is_alive()


class TestResizeInterval:
    """$PODSELF_RESIZE_INTERVAL sets how often the integrations re-read the pod."""

    def test_values(self, caplog: pytest.LogCaptureFixture) -> None:
        """A number of seconds in range is used; anything else is logged and 30 s used."""
        from podself.integrations._resize import interval_s

        assert interval_s({}) == 30.0
        assert interval_s({"PODSELF_RESIZE_INTERVAL": " 2.5 "}) == 2.5
        with caplog.at_level(logging.WARNING, logger="podself"):
            for bad in ("0", "nan", "1e9", "soon", "-1"):
                assert interval_s({"PODSELF_RESIZE_INTERVAL": bad}) == 30.0
        messages = [r.getMessage() for r in caplog.records]
        assert len(messages) == 5
        assert messages[3] == (
            'env PODSELF_RESIZE_INTERVAL="soon": must be a number of seconds from 0.1 to 3600; '
            "using 30"
        )


CELERY_APP = """
from celery import Celery
import podself.integrations.celery

app = Celery("tasks", broker="memory://")
app.conf.update(USER_CONF)
podself.integrations.celery.install(app)
"""


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
class TestCeleryLive:
    """A real Celery worker gets its concurrency from the plan and its prefork pool follows
    a resize of the pod."""

    def start(
        self, tmp_path: Path, *args: str, user_conf: str = "{}"
    ) -> tuple[FakePod, subprocess.Popen[bytes]]:
        pytest.importorskip("celery")
        fake = FakePod(tmp_path / "pod", limits={"cpu": "2", "memory": "2Gi"})
        (tmp_path / "tasks.py").write_text(CELERY_APP.replace("USER_CONF", user_conf))
        environ = {
            "PATH": os.environ.get("PATH", os.defpath),
            **fake.environ,
            "PODSELF_ROOT": str(fake.root),
            "PODSELF_PROC_ROOT": str(fake.proc_root),
            "PODSELF_RESIZE_INTERVAL": "0.2",
        }
        argv = [sys.executable, "-m", "celery", "-A", "tasks", "worker", "-l", "INFO", *args]
        with (tmp_path / "celery.log").open("w") as log:
            proc = subprocess.Popen(
                argv,
                cwd=tmp_path,
                env=environ,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.procs.append(proc)
        return fake, proc

    @pytest.fixture(autouse=True)
    def _stop(self) -> Iterator[None]:
        self.procs: list[subprocess.Popen[bytes]] = []
        yield
        for proc in self.procs:
            # Celery's own shutdown takes seconds on the memory transport: end the group.
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def log_has(self, tmp_path: Path, text: str) -> None:
        path = tmp_path / "celery.log"
        wait_until(lambda: text in path.read_text(), repr(text))

    def test_prefork_follows_a_resize(self, tmp_path: Path) -> None:
        """2 CPUs -> 2 pool processes; 3 CPUs -> 3 in the same worker. The memory transport
        runs without an event loop: 1 CPU leaves 3 and says why."""
        fake, proc = self.start(tmp_path)
        self.log_has(tmp_path, "ready.")
        self.log_has(tmp_path, "worker_concurrency=2 for the prefork pool (workers=2: cpu limit")
        wait_workers(proc.pid, 2)
        resize(fake, 3000)
        wait_workers(proc.pid, 3)
        self.log_has(tmp_path, "celery: resize to 3 pool processes (was 2)")
        resize(fake, 1000)
        self.log_has(tmp_path, "celery: pool left at 3 processes (plan: 1): without an event loop")
        assert len(live_children(proc.pid)) == 3
        # A warm shutdown stops the watcher before the pool goes away.
        proc.send_signal(signal.SIGTERM)
        proc.wait(WAIT)
        assert "check failed" not in (tmp_path / "celery.log").read_text()

    def test_threads_pool(self, tmp_path: Path) -> None:
        """The threads pool gets min(32, cpus + 4) threads: the banner says so."""
        _, _proc = self.start(tmp_path, "--pool=threads")
        self.log_has(tmp_path, "ready.")
        self.log_has(tmp_path, "concurrency: 6 (thread)")

    @pytest.mark.parametrize(
        ("args", "user_conf"), [(("-c", "3"), "{}"), ((), '{"worker_concurrency": 3}')]
    )
    def test_user_concurrency_wins(
        self, tmp_path: Path, args: tuple[str, ...], user_conf: str
    ) -> None:
        """-c or the app's own worker_concurrency is kept, and no resize is followed."""
        _, proc = self.start(tmp_path, *args, user_conf=user_conf)
        self.log_has(tmp_path, "ready.")
        self.log_has(tmp_path, "concurrency: 3 (prefork)")
        self.log_has(tmp_path, "worker_concurrency set by the user; the plan would say 2")
        assert len(live_children(proc.pid)) == 3


class TestCelery:
    """worker_concurrency from the plan, by pool."""

    def test_concurrency_by_pool(self) -> None:
        """prefork gets the plan's workers (memory-capped); threads min(32, cpus + 4);
        solo, gevent and eventlet are left to Celery."""
        pytest.importorskip("celery")
        from celery.concurrency import prefork, thread  # type: ignore[import-untyped]

        from podself.integrations import celery as helper

        current = make_plan(8000, memory_gib=1)  # 8 CPUs, 1 GiB: 4 workers of 256 MB
        assert helper.concurrency("prefork", current) == 4
        assert helper.concurrency("processes", current) == 4
        assert helper.concurrency(prefork.TaskPool, current) == 4
        assert helper.concurrency("threads", current) == 12
        assert helper.concurrency(thread.TaskPool, current) == 12
        for pool in ("solo", "gevent", "eventlet", "custom"):
            assert helper.concurrency(pool, current) is None
        assert helper.config("prefork", current) == {"worker_concurrency": 4}
        assert helper.config("solo", current) == {}

    def test_config_in_an_app(self) -> None:
        """config() is a Celery configuration of its own, or an update to one."""
        celery = pytest.importorskip("celery")
        from podself.integrations import celery as helper

        app = celery.Celery("sized", broker="memory://", set_as_current=False)
        app.config_from_object(helper.config("prefork", make_plan(3000)))
        assert app.conf.worker_concurrency == 3
        app.conf.update(helper.config("threads", make_plan(3000)))
        assert app.conf.worker_concurrency == 7

    def test_settle_with_an_event_loop(self) -> None:
        """With an event loop a shrink is retried while every process is busy, and the
        prefetch count follows the pool (as pool_grow and pool_shrink do)."""
        from podself.integrations.celery import _PoolResizer

        calls: list[tuple[str, int]] = []

        class Pool:
            num_processes = 3
            busy = True

            def grow(self, n: int) -> None:
                calls.append(("grow", n))

            def shrink(self, n: int) -> None:
                if self.busy:
                    raise ValueError("Can't shrink pool. All processes busy!")
                calls.append(("shrink", n))

        consumer = types.SimpleNamespace(
            pool=Pool(),
            controller=types.SimpleNamespace(hub=object()),
            _update_prefetch_count=lambda n: calls.append(("prefetch", n)),
        )
        resizer = _PoolResizer(consumer)
        resizer.target = 1
        resizer.settle()
        assert calls == []
        consumer.pool.busy = False
        resizer.settle()
        assert calls == [("shrink", 2), ("prefetch", -2)]
        calls.clear()
        resizer.target = 5
        resizer.settle()
        assert calls == [("grow", 2), ("prefetch", 2)]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_gunicorn_follows_podself_resize_on_the_emulator(tmp_path: Path) -> None:
    """The whole path a user takes: a manifest they would write, ``podself inject`` (each
    container's limits under containers/<name>/), ``podself run`` with gunicorn configured by
    ``from podself.integrations.gunicorn import *``, then ``podself resize``: the arbiter
    (started once) sends itself TTOU and TTIN as the limits change, without a restart."""
    pytest.importorskip("gunicorn")
    import yaml

    (tmp_path / "workerapp.py").write_text(
        'def app(environ, start_response):\n    start_response("200 OK", [])\n    return [b"ok"]\n'
    )
    (tmp_path / "gunicorn.conf.py").write_text("from podself.integrations.gunicorn import *\n")
    command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"]
    command += ["--chdir", str(tmp_path), "--bind", "127.0.0.1:0", "workerapp:app"]
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "containers": [
                {
                    "name": "web",
                    "image": "python:3.12",
                    "workingDir": str(tmp_path),
                    "command": command,
                    "env": [{"name": "PODSELF_RESIZE_INTERVAL", "value": "0.2"}],
                    "resources": {"limits": {"cpu": "2", "memory": "1Gi"}},
                }
            ]
        },
    }
    (tmp_path / "pod.yaml").write_text(yaml.safe_dump(pod))
    podself = [sys.executable, "-m", "podself"]
    injected = subprocess.run(
        [*podself, "inject", str(tmp_path / "pod.yaml")],
        check=True,
        capture_output=True,
        text=True,
        timeout=WAIT,
    ).stdout
    assert "containers/web/cpu_limit" in injected
    (tmp_path / "injected.yaml").write_text(injected)
    where = ["--state-dir", str(tmp_path / "state")]
    run = [*podself, "run", "-f", str(tmp_path / "injected.yaml"), *where]
    run += ["--sync-delay", "0.1", "--grace", "5", "--timeout", "120", "--node-cpu", "4"]
    with (tmp_path / "run.log").open("w") as log:
        proc = subprocess.Popen(run, stdout=log, stderr=subprocess.STDOUT)

    def output() -> str:
        return (tmp_path / "run.log").read_text()

    def logged(text: str) -> bool:
        if proc.poll() is not None:
            pytest.fail(f"podself run ended ({proc.returncode}):\n{output()}")
        return text in output()

    try:
        wait_until(
            lambda: logged("Booting worker") and output().count("Booting worker") >= 2, "2 workers"
        )
        for cpu, workers, was in (("1", 1, 2), ("2", 2, 1)):
            resize = [*podself, "resize", "web", "--cpu", cpu, *where]
            done = subprocess.run(resize, capture_output=True, text=True, timeout=WAIT, check=False)
            assert (done.returncode, done.stdout) == (0, "pod/web patched\n"), done.stderr
            line = f"podself: resize to {workers} workers (was {was})"
            wait_until(functools.partial(logged, line), f"gunicorn resized to {workers}")
        assert output().count("Starting gunicorn") == 1  # one arbiter all along
    finally:
        proc.terminate()
        proc.wait(timeout=WAIT)
