"""Tests for podself.integrations: gunicorn, uvicorn, concurrent.futures and asyncio helpers."""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import runpy
import sys
import threading
import types
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from podself.integrations import pools
from podself.pod import PodInfo, Resources
from podself.testing import FakePod
from podself.tuning import Host, Plan, Policy, plan

GIB = 1 << 30
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
        """A gunicorn.conf.py with the star import defines exactly workers and threads."""
        pod_environ(limits)
        fresh_gunicorn_module()
        conf = tmp_path / "gunicorn.conf.py"
        conf.write_text("from podself.integrations.gunicorn import *\nbind = '0.0.0.0:8000'\n")
        namespace = runpy.run_path(str(conf))
        settings = {k: v for k, v in namespace.items() if not k.startswith("__")}
        assert settings == {"workers": workers, "threads": 1, "bind": "0.0.0.0:8000"}

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
