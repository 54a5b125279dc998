"""Tests for podself.tuning: the seed's formulas, effective CPU/memory, plans and watching."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import ClassVar

import pytest

from podself import tuning
from podself.errors import SourceError
from podself.pod import PodInfo, Resources, read
from podself.testing import FakePod
from podself.tuning import Host, Plan, PlanWatcher, Policy, cpu_count, expand, plan

UNKNOWN_HOST = Host()
GIB = 1 << 30
MIB = 1 << 20


def fake_plan(
    tmp_path: Path,
    policy: Policy | None = None,
    host: Host = UNKNOWN_HOST,
    read_kwargs: dict[str, object] | None = None,
    **pod: object,
) -> Plan:
    """The plan for a FakePod built from ``pod`` keyword arguments."""
    fake = FakePod(tmp_path, **pod)  # type: ignore[arg-type]
    return plan(fake.read(**(read_kwargs or {})), policy or Policy(), host=host)


def laptop(**resources: int | None) -> PodInfo:
    """A PodInfo outside Kubernetes with only the given resources."""
    return PodInfo(resources=Resources(**resources))


CGROUPS = ["v1", "v2", None]
ENVS = ["k8s", None]


class TestSeedResults:
    """The seed's published numbers come out exactly, whatever carries the limits."""

    @pytest.mark.parametrize("cgroup", CGROUPS)
    @pytest.mark.parametrize("env", ENVS)
    @pytest.mark.parametrize(
        ("limits", "expected"),
        [
            ({"cpu": "500m", "memory": "512Mi"}, (1, 128, 16)),
            ({"cpu": "2000m", "memory": "2Gi"}, (2, 512, 64)),
        ],
    )
    def test_exercise_4(
        self,
        tmp_path: Path,
        cgroup: str | None,
        env: str | None,
        limits: dict[str, str],
        expected: tuple[int, int, int],
    ) -> None:
        """512Mi/500m gives 1/128/16, 2Gi/2000m gives 2/512/64 (cgroup v1/v2/none, env or not)."""
        result = fake_plan(tmp_path, limits=limits, cgroup=cgroup, env=env)
        assert (result.workers, result.cache_mb, result.connections) == expected
        assert result.cpu_from == "limit"
        assert result.memory_from == "limit"
        assert result.warnings == ()

    @pytest.mark.parametrize("cgroup", CGROUPS)
    @pytest.mark.parametrize(("memory", "heap_mb"), [("512Mi", 384), ("2Gi", 1536), ("4Gi", 3072)])
    def test_java_heap_table(
        self, tmp_path: Path, cgroup: str | None, memory: str, heap_mb: int
    ) -> None:
        """The Java example's heap is 75% of the limit: 384/1536/3072 MB for 512Mi/2Gi/4Gi."""
        result = fake_plan(tmp_path, limits={"cpu": "1000m", "memory": memory}, cgroup=cgroup)
        assert heap_mb == result.heap_mb
        assert f"-Xmx{heap_mb}m -Xms{heap_mb}m -XX:ParallelGCThreads=1" == result.java_options()

    @pytest.mark.parametrize(
        ("millicores", "gc_threads"), [(500, 1), (1000, 1), (1999, 1), (2000, 2), (4000, 4)]
    )
    def test_gc_threads_and_nginx_workers(self, millicores: int, gc_threads: int) -> None:
        """GC threads and nginx workers are millicores // 1000, at least 1 (exercise 5)."""
        result = plan(laptop(cpu_limit=millicores, memory_limit=GIB), Policy(), host=UNKNOWN_HOST)
        assert gc_threads == result.gc_threads
        assert gc_threads == result.nginx_workers

    def test_integer_arithmetic_like_the_shell(self) -> None:
        """Cache and heap floor like $((MB * 25 / 100)) and connections like $((MB / 32))."""
        result = plan(laptop(cpu_limit=1000, memory_limit=1001 * MIB), Policy(), host=UNKNOWN_HOST)
        assert result.cache_mb == 1001 * 25 // 100
        assert result.heap_mb == 1001 * 75 // 100
        assert result.connections == 1001 // 32

    def test_reason_names_input_and_source(self, tmp_path: Path) -> None:
        """Each number's reason names the value, its source and the rule applied."""
        result = fake_plan(tmp_path, limits={"cpu": "2", "memory": "2Gi"}, cgroup="v2")
        assert (
            result.reasons["workers"]
            == "workers=2: cpu limit 2000m (env RESOURCE_CPU_LIMIT_MILLICORES) / 1000, floor, min 1"
        )
        assert (
            result.reasons["cache_mb"]
            == "cache_mb=512: memory limit 2048 MB (env RESOURCE_MEMORY_LIMIT_MB) * 25 / 100, min 1"
        )
        assert set(tuning.PLACEHOLDERS) <= set(result.reasons)
        for name, value in result.numbers().items():
            assert result.reasons[name].startswith(f"{name}={value}:")


class TestEffectiveCpu:
    """CPU comes from the limit, then the request, then the cgroup, affinity or defaults."""

    def test_limit_from_downward_volume(self, tmp_path: Path) -> None:
        """Without env vars the Downward API volume's cpu_limit file is named as the source."""
        result = fake_plan(tmp_path, limits={"cpu": "3", "memory": "1Gi"}, env=None)
        assert result.workers == 3
        assert "downward" in result.reasons["cpu_millicores"]
        assert "cpu_limit" in result.reasons["cpu_millicores"]

    @pytest.mark.parametrize("cgroup", ["v1", "v2"])
    def test_cgroup_quota_alone(self, tmp_path: Path, cgroup: str) -> None:
        """With neither env nor volume, the cgroup quota is the limit and the file is named."""
        result = fake_plan(
            tmp_path,
            limits={"cpu": "1500m", "memory": "768Mi"},
            env=None,
            cgroup=cgroup,
            read_kwargs={"podinfo_dirs": []},
        )
        assert result.cpu_millicores == 1500
        assert result.memory_mb == 768
        assert "cgroup" in result.reasons["cpu_millicores"]
        assert ("cpu.max" if cgroup == "v2" else "cpu.cfs_quota_us") in result.reasons["cpus"]

    @pytest.mark.parametrize("cgroup", ["v1", "v2"])
    def test_request_when_no_limit(self, tmp_path: Path, cgroup: str) -> None:
        """A pod with requests but no limits is sized from requests, not node allocatable."""
        result = fake_plan(
            tmp_path,
            limits={},
            requests={"cpu": "2500m", "memory": "1Gi"},
            cgroup=cgroup,
        )
        assert (result.cpu_from, result.memory_from) == ("request", "request")
        assert result.workers == 2
        assert result.cache_mb == 256
        assert (
            "cpu request 2500m (env RESOURCE_CPU_REQUEST_MILLICORES, no limit)"
            in (result.reasons["workers"])
        )
        assert any("no CPU limit" in w for w in result.warnings)

    def test_requests_ignored_when_disabled(self) -> None:
        """use_requests=False skips requests and falls through to the host."""
        info = laptop(cpu_request=2000, memory_request=GIB)
        result = plan(info, Policy(use_requests=False), host=Host(affinity=6, memory_bytes=8 * GIB))
        assert (result.cpu_from, result.memory_from) == ("affinity", "host")
        assert result.workers == 6

    def test_laptop_uses_affinity_with_warning(self) -> None:
        """Outside Kubernetes with no limits this machine's usable CPUs count, with a warning."""
        result = plan(laptop(), Policy(), host=Host(cpus=8, affinity=3, memory_bytes=16 * GIB))
        assert result.cpu_from == "affinity"
        assert result.cpu_millicores == 3000
        assert any("3 usable CPUs" in w for w in result.warnings)

    def test_laptop_without_affinity_uses_cpu_count(self) -> None:
        """Where affinity is unknown (macOS) os.cpu_count() is the last host fact."""
        result = plan(laptop(), Policy(), host=Host(cpus=4, memory_bytes=16 * GIB))
        assert (result.cpu_from, result.workers) == ("cpu_count", 4)

    def test_nothing_known_uses_seed_defaults(self) -> None:
        """With no information at all the seed's 500m / 512 MB defaults apply, with warnings."""
        result = plan(laptop(), Policy(), host=UNKNOWN_HOST)
        assert (result.cpu_from, result.memory_from) == ("default", "default")
        assert (result.cpu_millicores, result.memory_mb) == (500, 512)
        assert (
            result.workers,
            result.cache_mb,
            result.connections,
            result.heap_mb,
        ) == (1, 128, 16, 384)
        assert any("PODSELF_DEFAULT_MILLICORES" in w for w in result.warnings)
        assert any("PODSELF_DEFAULT_MEMORY_MB" in w for w in result.warnings)

    @pytest.mark.parametrize("cgroup", CGROUPS)
    def test_kubernetes_without_limits_uses_defaults_not_node(
        self, tmp_path: Path, cgroup: str | None
    ) -> None:
        """Inside Kubernetes with neither limit nor request the defaults beat the node's size."""
        host = Host(cpus=64, affinity=64, memory_bytes=256 * GIB)
        result = fake_plan(
            tmp_path,
            limits={},
            requests={},
            cgroup=cgroup,
            policy=Policy(node_allocatable_millicores=4000, node_allocatable_memory_mb=8192),
            host=host,
        )
        assert (result.workers, result.memory_mb) == (1, 512)
        assert result.cpu_from == "default"

    def test_fallback_host_inside_kubernetes(self, tmp_path: Path) -> None:
        """fallback=host sizes a limitless pod from the node, as os.cpu_count() would."""
        host = Host(cpus=16, affinity=16, memory_bytes=64 * GIB)
        result = fake_plan(
            tmp_path,
            limits={},
            requests={},
            cgroup="v2",
            policy=Policy(fallback="host"),
            host=host,
        )
        assert (result.workers, result.cpu_from) == (16, "affinity")

    def test_fallback_defaults_outside_kubernetes(self) -> None:
        """fallback=defaults ignores the host even on a laptop."""
        result = plan(laptop(), Policy(fallback="defaults"), host=Host(cpus=8, affinity=8))
        assert (result.cpu_from, result.cpu_millicores) == ("default", 500)

    def test_affinity_caps_the_limit(self) -> None:
        """A 4-CPU limit on a process pinned to 2 CPUs counts 2, and the reason says so."""
        result = plan(laptop(cpu_limit=4000, memory_limit=GIB), Policy(), host=Host(affinity=2))
        assert result.workers == 2
        assert "capped at 2000m by CPU affinity (2 CPUs)" in result.reasons["workers"]

    def test_affinity_cap_can_be_disabled(self) -> None:
        """respect_affinity=False keeps the limit."""
        result = plan(
            laptop(cpu_limit=4000, memory_limit=GIB),
            Policy(respect_affinity=False),
            host=Host(affinity=2),
        )
        assert result.workers == 4


class TestCpuCount:
    """cpu_count() is the container-aware os.cpu_count(): rounded up, at least 1."""

    @pytest.mark.parametrize(
        ("millicores", "ceil", "floor"), [(250, 1, 1), (500, 1, 1), (1500, 2, 1), (2000, 2, 2)]
    )
    def test_rounding(self, millicores: int, ceil: int, floor: int) -> None:
        """Ceil by default (like the JVM, .NET, loky); floor on request; never below 1."""
        info = laptop(cpu_limit=millicores)
        assert ceil == cpu_count(info, policy=Policy(), host=UNKNOWN_HOST)
        assert floor == cpu_count(info, policy=Policy(), host=UNKNOWN_HOST, rounding="floor")

    def test_reserve_and_affinity(self) -> None:
        """The reserve comes off first and affinity caps the count."""
        info = laptop(cpu_limit=3000)
        assert cpu_count(info, policy=Policy(reserve_millicores=500), host=UNKNOWN_HOST) == 3
        assert cpu_count(info, policy=Policy(), host=Host(affinity=2)) == 2

    def test_request_when_no_limit(self, tmp_path: Path) -> None:
        """A FakePod with only a 1200m request counts 2 CPUs."""
        fake = FakePod(tmp_path, limits={}, requests={"cpu": "1200m"}, cgroup="v2")
        assert cpu_count(fake.read(), policy=Policy(), host=UNKNOWN_HOST) == 2

    def test_bad_rounding(self) -> None:
        """An unknown rounding mode is refused by name."""
        with pytest.raises(ValueError, match='rounding "up"'):
            cpu_count(laptop(cpu_limit=1000), rounding="up")

    def test_process_default(self) -> None:
        """Without arguments it reads this process and returns a positive count."""
        assert cpu_count() >= 1


class TestMemory:
    """Memory comes from the limit, then the request, then the host or the defaults."""

    def test_megabytes_round_up_like_a_divisor(self) -> None:
        """A 100M limit is 96 MB, as a 1Mi divisor would report it."""
        result = plan(laptop(cpu_limit=1000, memory_limit=100_000_000), Policy(), host=UNKNOWN_HOST)
        assert result.memory_mb == 96

    def test_host_memory_on_a_laptop(self) -> None:
        """Outside Kubernetes with no limit, physical memory is the budget, with a warning."""
        result = plan(laptop(cpu_limit=1000), Policy(), host=Host(memory_bytes=16 * GIB))
        assert (result.memory_from, result.memory_mb, result.cache_mb) == ("host", 16384, 4096)
        assert any("16384 MB" in w for w in result.warnings)

    @pytest.mark.parametrize("memory_limit", [2, MIB])
    def test_sizes_never_reach_zero(self, memory_limit: int) -> None:
        """A tiny limit still gives a 1 MB heap, cache and GOMEMLIMIT, never 0 (or -Xmx0m)."""
        result = plan(laptop(cpu_limit=1, memory_limit=memory_limit), Policy(), host=UNKNOWN_HOST)
        assert (result.heap_mb, result.cache_mb, result.gomemlimit_mb) == (1, 1, 1)
        assert result.workers == result.threads == 1
        assert result.env()["GOMEMLIMIT"] == "1MiB"
        assert "-Xmx1m" in result.java_options()
        assert result.reasons["heap_mb"].endswith(", min 1")

    def test_gomemlimit_only_under_a_limit(self) -> None:
        """GOMEMLIMIT is 90% of a memory limit and absent when memory is not a limit."""
        limited = plan(laptop(cpu_limit=1000, memory_limit=GIB), Policy(), host=UNKNOWN_HOST)
        assert limited.gomemlimit_mb == 921
        assert limited.env()["GOMEMLIMIT"] == "921MiB"
        requested = plan(laptop(cpu_limit=1000, memory_request=GIB), Policy(), host=UNKNOWN_HOST)
        assert requested.gomemlimit_mb is None
        assert "GOMEMLIMIT" not in requested.env()
        assert "gomemlimit_mb" not in requested.placeholders()

    def test_fractional_percent_is_exact(self) -> None:
        """12.5% of 1000 MB is exactly 125 MB."""
        result = plan(
            laptop(cpu_limit=1000, memory_limit=1000 * MIB),
            Policy(cache_percent=12.5),
            host=UNKNOWN_HOST,
        )
        assert result.cache_mb == 125


class TestNodeAllocatableTrap:
    """A limit that is really node allocatable (no limit set) is detected and not used."""

    @pytest.mark.parametrize("cgroup", ["v1", "v2"])
    def test_cgroup_shows_no_limit(self, tmp_path: Path, cgroup: str) -> None:
        """The pod's cgroup has no limit, so env's node-allocatable values are dropped."""
        result = fake_plan(tmp_path, limits={}, requests={"cpu": "500m"}, cgroup=cgroup)
        assert (result.cpu_from, result.cpu_millicores) == ("request", 500)
        assert any("the pod's cgroup sets none" in w for w in result.warnings)

    @pytest.mark.parametrize("env", ENVS)
    def test_equal_to_known_node_allocatable(self, tmp_path: Path, env: str | None) -> None:
        """Without cgroups, a limit equal to the configured node allocatable is no limit."""
        policy = Policy(node_allocatable_millicores=4000, node_allocatable_memory_mb=8192)
        result = fake_plan(tmp_path, limits={}, requests={}, cgroup=None, env=env, policy=policy)
        assert (result.cpu_from, result.memory_from) == ("default", "default")
        traps = [w for w in result.warnings if "equal to node allocatable" in w]
        assert len(traps) == 2
        assert "cpu limit 4000m" in traps[0]
        assert "memory limit 8192 MB" in traps[1]

    def test_exactly_the_host_is_kept_with_a_warning(self, tmp_path: Path) -> None:
        """A limit exactly this machine's size may be node allocatable: warned, not dropped."""
        host = Host(cpus=4, memory_bytes=8 * GIB)
        result = fake_plan(tmp_path, limits={}, requests={}, cgroup=None, host=host)
        assert (result.cpu_from, result.memory_from) == ("limit", "limit")
        assert (result.cpu_millicores, result.memory_mb) == (4000, 8192)
        assert any("exactly this machine's 4 CPUs" in w for w in result.warnings)
        assert any("exactly this machine's 8192 MB" in w for w in result.warnings)

    def test_above_the_host_is_no_limit(self, tmp_path: Path) -> None:
        """A limit larger than this machine cannot be used: it counts as no limit."""
        host = Host(cpus=2, memory_bytes=4 * GIB)
        result = fake_plan(tmp_path, limits={}, requests={}, cgroup=None, host=host)
        assert (result.cpu_from, result.memory_from) == ("default", "default")
        assert any("more than this machine's 2 CPUs" in w for w in result.warnings)
        assert any("more than this machine's 4096 MB" in w for w in result.warnings)

    def test_trap_falls_back_to_request(self, tmp_path: Path) -> None:
        """After a trapped limit the request is used when there is one."""
        policy = Policy(node_allocatable_millicores=4000, node_allocatable_memory_mb=8192)
        result = fake_plan(
            tmp_path,
            limits={},
            requests={"cpu": "2", "memory": "1Gi"},
            cgroup=None,
            policy=policy,
        )
        assert (result.workers, result.memory_mb) == (2, 1024)
        assert (result.cpu_from, result.memory_from) == ("request", "request")

    def test_real_limit_below_node_is_kept(self, tmp_path: Path) -> None:
        """A genuine limit smaller than the node is used without warnings."""
        policy = Policy(node_allocatable_millicores=4000, node_allocatable_memory_mb=8192)
        host = Host(cpus=4, memory_bytes=8 * GIB)
        result = fake_plan(
            tmp_path, limits={"cpu": "2", "memory": "2Gi"}, cgroup=None, policy=policy, host=host
        )
        assert (result.workers, result.memory_mb, result.warnings) == (2, 2048, ())

    def test_cgroup_limits_are_never_trapped(self, tmp_path: Path) -> None:
        """A limit read from cgroups is what the kernel enforces, so the trap does not apply."""
        result = fake_plan(
            tmp_path,
            limits={"cpu": "4", "memory": "8Gi"},
            env=None,
            cgroup="v2",
            read_kwargs={"podinfo_dirs": []},
            policy=Policy(node_allocatable_millicores=4000, node_allocatable_memory_mb=8192),
        )
        assert (result.cpu_from, result.workers, result.memory_mb) == ("limit", 4, 8192)


class TestBadInputValues:
    """Malformed limit values fall back to the next source, with a warning."""

    @pytest.mark.parametrize("cgroup", ["v1", "v2"])
    @pytest.mark.parametrize("bad", ["abc", "-500", "", "1.5.6"])
    def test_bad_env_cpu_limit_falls_back_to_volume(
        self, tmp_path: Path, cgroup: str, bad: str
    ) -> None:
        """A malformed CPU env value is ignored; the Downward API volume still gives 2000m."""
        fake = FakePod(
            tmp_path,
            limits={"cpu": "2", "memory": "1Gi"},
            cgroup=cgroup,
            extra_env={"RESOURCE_CPU_LIMIT_MILLICORES": bad},
        )
        info = fake.read()
        result = plan(info, Policy(), host=UNKNOWN_HOST)
        assert result.workers == 2
        assert "downward" in result.reasons["workers"]
        assert info.warnings

    def test_bad_values_everywhere_fall_back_to_cgroup(self, tmp_path: Path) -> None:
        """With env and volume both unusable the cgroup limits remain."""
        fake = FakePod(
            tmp_path,
            limits={"cpu": "3", "memory": "1Gi"},
            cgroup="v2",
            extra_env={"RESOURCE_CPU_LIMIT_MILLICORES": "lots", "RESOURCE_MEMORY_LIMIT_MB": "x"},
        )
        info = fake.read(podinfo_dirs=[])
        result = plan(info, Policy(), host=UNKNOWN_HOST)
        assert (result.workers, result.memory_mb) == (3, 1024)
        assert "cgroup" in result.reasons["workers"]
        assert len(info.warnings) >= 2

    def test_bad_everything_falls_back_to_defaults(self, tmp_path: Path) -> None:
        """Malformed env, no volume and no cgroup leave the documented defaults, with warnings."""
        fake = FakePod(
            tmp_path,
            limits={},
            requests={},
            cgroup=None,
            env=None,
            extra_env={"RESOURCE_CPU_LIMIT_MILLICORES": "lots", "RESOURCE_MEMORY_LIMIT_MB": "-1"},
        )
        info = fake.read(podinfo_dirs=[])
        result = plan(info, Policy(), host=UNKNOWN_HOST)
        assert (result.cpu_from, result.memory_from) == ("default", "default")
        assert info.warnings
        assert len(result.warnings) >= 2

    def test_bad_policy_env_is_skipped_with_warning(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """plan() without a policy reads PODSELF_* leniently: a bad knob warns, default stays."""
        monkeypatch.setenv("PODSELF_MIN_WORKERS", "zero")
        monkeypatch.delenv("PODSELF_POLICY_FILE", raising=False)
        result = plan(laptop(cpu_limit=3000, memory_limit=GIB), host=UNKNOWN_HOST)
        assert result.workers == 3
        assert any('env PODSELF_MIN_WORKERS="zero"' in w for w in result.warnings)


class TestRounding:
    """floor (the seed) and ceil round every CPU-derived count."""

    @pytest.mark.parametrize(
        ("millicores", "rounding", "expected"),
        [
            (1500, "floor", 1),
            (1500, "ceil", 2),
            (500, "floor", 1),
            (500, "ceil", 1),
            (2001, "ceil", 3),
            (2999, "floor", 2),
        ],
    )
    def test_counts(self, millicores: int, rounding: str, expected: int) -> None:
        """workers, cpus, gc_threads and nginx_workers share the rounding mode."""
        result = plan(
            laptop(cpu_limit=millicores, memory_limit=GIB),
            Policy(rounding=rounding),
            host=UNKNOWN_HOST,
        )
        assert [expected] * 4 == [
            result.workers,
            result.cpus,
            result.gc_threads,
            result.nginx_workers,
        ]
        assert f", {rounding}," in result.reasons["workers"]


class TestWorkerLimits:
    """min, max, reserve and the per-worker memory cap shape the worker count."""

    def test_minimum(self) -> None:
        """min_workers raises a small pod's count."""
        result = plan(
            laptop(cpu_limit=500, memory_limit=GIB), Policy(min_workers=2), host=UNKNOWN_HOST
        )
        assert result.workers == 2
        assert "min 2" in result.reasons["workers"]

    def test_maximum(self) -> None:
        """max_workers caps a big pod's count."""
        result = plan(
            laptop(cpu_limit=16000, memory_limit=GIB), Policy(max_workers=3), host=UNKNOWN_HOST
        )
        assert result.workers == 3
        assert "max 3" in result.reasons["workers"]

    def test_millicores_per_worker(self) -> None:
        """Half a CPU per worker doubles the count."""
        result = plan(
            laptop(cpu_limit=2000, memory_limit=GIB),
            Policy(millicores_per_worker=500),
            host=UNKNOWN_HOST,
        )
        assert result.workers == 4

    def test_cpu_reserve(self) -> None:
        """A 250m reserve for a sidecar leaves 1750m: one worker with floor, two with ceil."""
        info = laptop(cpu_limit=2000, memory_limit=GIB)
        floor = plan(info, Policy(reserve_millicores=250), host=UNKNOWN_HOST)
        ceil = plan(info, Policy(reserve_millicores=250, rounding="ceil"), host=UNKNOWN_HOST)
        assert (floor.workers, ceil.workers) == (1, 2)
        assert "- reserve 250m" in floor.reasons["workers"]
        assert floor.cpu_millicores == 2000

    def test_memory_reserve(self) -> None:
        """A 512 MB reserve comes off before the cache, heap and pool ratios."""
        result = plan(
            laptop(cpu_limit=1000, memory_limit=2 * GIB),
            Policy(reserve_memory_mb=512),
            host=UNKNOWN_HOST,
        )
        assert (result.cache_mb, result.heap_mb, result.connections) == (384, 1152, 48)
        assert "- reserve 512 MB" in result.reasons["cache_mb"]

    @pytest.mark.parametrize("field", ["reserve_millicores", "reserve_memory_mb"])
    def test_reserve_larger_than_budget_is_ignored(self, field: str) -> None:
        """A reserve that would leave nothing is ignored with a warning."""
        policy = Policy(**{field: 4096})  # type: ignore[arg-type]
        result = plan(laptop(cpu_limit=2000, memory_limit=GIB), policy, host=UNKNOWN_HOST)
        assert (result.workers, result.cache_mb) == (2, 256)
        assert any(f"{field}=4096 leaves nothing" in w for w in result.warnings)

    def test_memory_cap(self) -> None:
        """8 CPUs but 1 GiB at 300 MB per worker gives 3 workers, and says why."""
        result = plan(
            laptop(cpu_limit=8000, memory_limit=GIB),
            Policy(worker_memory_mb=300),
            host=UNKNOWN_HOST,
        )
        assert result.workers == 3
        assert "capped at 3 by memory limit 1024 MB" in result.reasons["workers"]
        assert result.warnings == ()

    def test_default_budget_caps_a_small_pod(self) -> None:
        """8 CPUs / 1 GiB gets 4 workers, not 8, by the default 256 MiB per worker, with a
        reason and a warning; none sizes by CPU only."""
        info = laptop(cpu_limit=8000, memory_limit=GIB)
        result = plan(info, Policy(), host=UNKNOWN_HOST)
        assert result.workers == 4
        assert "capped at 4 by memory limit 1024 MB" in result.reasons["workers"]
        assert any(
            "workers capped at 4 (CPU allows 8)" in w and "PODSELF_WORKER_MEMORY_MB" in w
            for w in result.warnings
        )
        policy = Policy.from_env({"PODSELF_WORKER_MEMORY_MB": "none"})
        assert plan(info, policy, host=UNKNOWN_HOST).workers == 8
        assert (
            plan(laptop(cpu_limit=2000, memory_limit=2 * GIB), Policy(), host=UNKNOWN_HOST).warnings
            == ()
        )

    def test_unitless_cpu_limit_above_the_machine_names_the_divisor(self, tmp_path: Path) -> None:
        """CPU_LIMIT=500 (divisor 1m) read as 500 cores: discarded, and the warning says why."""
        info = read(
            environ={"CPU_LIMIT": "500"},
            podinfo_dirs=[],
            proc_root=tmp_path / "no-proc",
            cgroup_root=tmp_path,
            serviceaccount_dir=tmp_path / "no-sa",
            hosts_file=tmp_path / "no-hosts",
        )
        result = plan(info, Policy(), host=Host(cpus=8, affinity=8))
        assert result.cpu_from != "limit"
        assert any("--env-map CPU_LIMIT=resources.cpu_limit@1m" in w for w in result.warnings)

    def test_gpus_in_the_plan(self) -> None:
        """gpus is in the plan with its source; 0 when none is visible."""
        result = plan(laptop(cpu_limit=1000, memory_limit=GIB, gpus=2), Policy(), host=UNKNOWN_HOST)
        assert (result.gpus, result.placeholders()["gpus"]) == (2, "2")
        none = plan(laptop(cpu_limit=1000, memory_limit=GIB), Policy(), host=UNKNOWN_HOST)
        assert none.gpus == 0
        assert none.reasons["gpus"].startswith("gpus=0: no GPU visible")

    def test_memory_high_bounds_what_is_held(self) -> None:
        """memory.high below the limit sizes workers, cache and heap; connections keep the limit."""
        info = laptop(cpu_limit=8000, memory_limit=2 * GIB, memory_high=GIB)
        result = plan(info, Policy(), host=UNKNOWN_HOST)
        assert (result.workers, result.cache_mb, result.heap_mb) == (4, 256, 768)
        assert result.connections == 64
        assert "memory.high 1024 MB" in result.reasons["cache_mb"]

    def test_memory_cap_below_minimum(self) -> None:
        """When memory allows fewer than min_workers the cap wins (at least 1) with a warning."""
        result = plan(
            laptop(cpu_limit=8000, memory_limit=GIB),
            Policy(worker_memory_mb=2048, min_workers=4),
            host=UNKNOWN_HOST,
        )
        assert result.workers == 1
        assert any("fewer than min_workers=4" in w for w in result.warnings)

    def test_memory_cap_counts_after_reserve(self) -> None:
        """The cap divides the memory left after the reserve."""
        result = plan(
            laptop(cpu_limit=8000, memory_limit=GIB),
            Policy(worker_memory_mb=200, reserve_memory_mb=424),
            host=UNKNOWN_HOST,
        )
        assert result.workers == 3


class TestThreadsAndPools:
    """threads, connections and the env a child gets."""

    def test_threads_share_cpus_among_workers(self) -> None:
        """threads = cpus * threads_per_cpu // workers, at least 1."""
        info = laptop(cpu_limit=4000, memory_limit=GIB)
        assert plan(info, Policy(), host=UNKNOWN_HOST).threads == 1
        assert plan(info, Policy(max_workers=1), host=UNKNOWN_HOST).threads == 4
        assert plan(info, Policy(threads_per_cpu=4), host=UNKNOWN_HOST).threads == 4

    def test_connection_bounds(self) -> None:
        """min_connections and max_connections bound memory // connection_mb."""
        tiny = plan(laptop(cpu_limit=500, memory_limit=16 * MIB), Policy(), host=UNKNOWN_HOST)
        big = plan(
            laptop(cpu_limit=500, memory_limit=64 * GIB),
            Policy(max_connections=100),
            host=UNKNOWN_HOST,
        )
        assert (tiny.connections, big.connections) == (1, 100)
        assert "max 100" in big.reasons["connections"]

    def test_env_for_children(self) -> None:
        """Conventional env vars carry the plan; JAVA_TOOL_OPTIONS only when asked."""
        result = plan(laptop(cpu_limit=2000, memory_limit=2 * GIB), Policy(), host=UNKNOWN_HOST)
        assert result.env() == {
            "WEB_CONCURRENCY": "2",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "GOMAXPROCS": "2",
            "PYTHON_CPU_COUNT": "2",
            "LOKY_MAX_CPU_COUNT": "2",
            "GOMEMLIMIT": "1843MiB",
        }
        java = result.env(java=True)["JAVA_TOOL_OPTIONS"]
        assert java == "-Xmx1536m -Xms1536m -XX:ParallelGCThreads=2"

    def test_python_cpu_count_rounds_up_like_cpu_count(self) -> None:
        """PYTHON_CPU_COUNT and LOKY_MAX_CPU_COUNT carry cpu_count(), not the floored cpus."""
        info = laptop(cpu_limit=1500, memory_limit=GIB)
        result = plan(info, Policy(), host=UNKNOWN_HOST)
        assert (result.cpus, result.cpu_count) == (1, 2)
        assert result.cpu_count == cpu_count(info, policy=Policy(), host=UNKNOWN_HOST)
        env = result.env()
        assert (env["PYTHON_CPU_COUNT"], env["LOKY_MAX_CPU_COUNT"]) == ("2", "2")
        assert result.reasons["cpu_count"].startswith("cpu_count=2: cpu limit 1500m")

    def test_seed_style_exports(self) -> None:
        """exports() leads with the seed's shell names, optionally prefixed."""
        result = plan(laptop(cpu_limit=500, memory_limit=512 * MIB), Policy(), host=UNKNOWN_HOST)
        exports = result.exports(prefix="APP_")
        assert (
            exports["APP_WORKERS"],
            exports["APP_CACHE_SIZE_MB"],
            exports["APP_CONN_POOL_SIZE"],
            exports["APP_HEAP_SIZE"],
        ) == ("1", "128", "16", "384")
        assert "WEB_CONCURRENCY" in exports

    def test_to_dict_is_json(self) -> None:
        """to_dict() serialises with numbers, sources, reasons and warnings."""
        result = plan(laptop(), Policy(), host=UNKNOWN_HOST)
        data = json.loads(json.dumps(result.to_dict()))
        assert {"workers", "threads", "cache_mb", "connections", "heap_mb", "gc_threads"} <= set(
            data
        )
        assert data["reasons"]["workers"].startswith("workers=1:")
        assert data["warnings"]

    def test_plan_is_immutable_and_comparable(self) -> None:
        """Plans compare by value and refuse assignment."""
        info = laptop(cpu_limit=1000, memory_limit=GIB)
        first = plan(info, Policy(), host=UNKNOWN_HOST)
        assert first == plan(info, Policy(), host=UNKNOWN_HOST)
        with pytest.raises(AttributeError):
            first.workers = 9

    def test_warnings_are_logged(self, caplog: pytest.LogCaptureFixture) -> None:
        """Fallbacks reach the podself logger as well as plan.warnings."""
        with caplog.at_level(logging.WARNING, logger="podself"):
            plan(laptop(), Policy(), host=UNKNOWN_HOST)
        assert any("default_millicores=500" in r.getMessage() for r in caplog.records)


class TestExpand:
    """The exec template fills {name} and keeps {{ }} as literal braces."""

    VALUES: ClassVar[dict[str, str]] = {"workers": "2", "heap_mb": "1536"}

    @pytest.mark.parametrize(
        ("template", "expected"),
        [
            ("--workers={workers}", "--workers=2"),
            ("-Xmx{heap_mb}m", "-Xmx1536m"),
            ("{workers}{workers}", "22"),
            ("{{workers}}", "{workers}"),
            ('{{"w": {workers}}}', '{"w": 2}'),
            ("plain", "plain"),
            ("", ""),
            ("-b :${PORT} -w {workers}", "-b :${PORT} -w 2"),
            ("${HOME:-/tmp}/{heap_mb}", "${HOME:-/tmp}/1536"),
            ("${{workers}}", "${workers}"),
        ],
    )
    def test_fill(self, template: str, expected: str) -> None:
        """Placeholders are replaced and doubled braces become single ones."""
        assert expected == expand(template, self.VALUES)

    @pytest.mark.parametrize(
        ("template", "message"),
        [
            ("{cores}", "unknown placeholder {cores}; known: {workers}, {heap_mb}"),
            ("{}", "unknown placeholder {}"),
            ("x{workers", '"{" at offset 1 is never closed'),
            ("x}", 'single "}" at offset 1'),
        ],
    )
    def test_errors(self, template: str, message: str) -> None:
        """Unknown names and lone braces are refused with the argument quoted."""
        with pytest.raises(SourceError) as caught:
            expand(template, self.VALUES)
        assert f'argument "{template}"' in str(caught.value)
        assert message in str(caught.value)


def _cpu_file(root: Path, cgroup: str) -> Path:
    name = "cpu.max" if cgroup == "v2" else "cpu.cfs_quota_us"
    (found,) = root.glob(f"sys/fs/cgroup/**/{name}")
    return found


def _resize(root: Path, cgroup: str, millicores: int) -> None:
    """Rewrite the CPU quota in one step (a reader never sees a half-written file)."""
    path = _cpu_file(root, cgroup)
    quota = millicores * 100
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(f"{quota} 100000\n" if cgroup == "v2" else f"{quota}\n")
    os.replace(tmp, path)


class TestPlanWatcher:
    """In-place resize: a re-read of the cgroup limits recomputes the plan and calls back."""

    @pytest.mark.parametrize("cgroup", ["v1", "v2"])
    def test_check_reports_resize(self, tmp_path: Path, cgroup: str) -> None:
        """Rewriting the CPU quota turns 2 workers into 4, once."""
        fake = FakePod(tmp_path, limits={"cpu": "2", "memory": "1Gi"}, cgroup=cgroup)
        calls: list[tuple[int, int]] = []
        watcher = PlanWatcher(
            lambda new, old: calls.append((old.workers, new.workers)),
            read_args=fake.read_args(),
            policy=Policy(),
            host=UNKNOWN_HOST,
        )
        assert watcher.check() is None
        _resize(tmp_path, cgroup, 4000)
        changed = watcher.check()
        assert changed is not None
        assert changed.workers == 4
        assert "cgroup" in changed.reasons["workers"]
        assert calls == [(2, 4)]
        assert watcher.check() is None
        assert watcher.plan.workers == 4

    def test_background_thread(self, tmp_path: Path) -> None:
        """start() polls in a daemon thread and stop() ends it."""
        fake = FakePod(tmp_path, limits={"cpu": "1", "memory": "1Gi"}, cgroup="v2")
        seen = threading.Event()
        got: list[Plan] = []

        def callback(new: Plan, old: Plan) -> None:
            got.append(new)
            seen.set()

        with PlanWatcher(
            callback,
            interval_s=0.01,
            read_args=fake.read_args(),
            policy=Policy(),
            host=UNKNOWN_HOST,
        ) as watcher:
            _resize(tmp_path, "v2", 3000)
            assert seen.wait(30)
        assert watcher._thread is not None
        assert not watcher._thread.is_alive()
        assert got[0].workers == 3

    def test_watch_plan_until_stopped(self, tmp_path: Path) -> None:
        """watch_plan blocks until its stop event is set, calling back on change."""
        fake = FakePod(tmp_path, limits={"cpu": "1", "memory": "1Gi"}, cgroup="v2")
        got: list[int] = []

        class ResizeOnFirstWait(threading.Event):
            """Resizes the pod the first time the loop waits, i.e. after the first read."""

            resized = False

            def wait(self, timeout: float | None = None) -> bool:
                if not self.resized:
                    self.resized = True
                    _resize(tmp_path, "v2", 2000)
                return super().wait(timeout)

        stop = ResizeOnFirstWait()

        def callback(new: Plan, old: Plan) -> None:
            got.append(new.workers)
            stop.set()

        tuning.watch_plan(
            callback,
            interval_s=0.01,
            stop_event=stop,
            read_args=fake.read_args(),
            policy=Policy(),
            host=UNKNOWN_HOST,
        )
        assert got == [2]

    def test_failing_callback_is_logged(
        self, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A callback that raises is logged and the watcher keeps running."""
        fake = FakePod(tmp_path, limits={"cpu": "1", "memory": "1Gi"}, cgroup="v2")
        stop = threading.Event()
        calls: list[int] = []

        def callback(new: Plan, old: Plan) -> None:
            calls.append(new.workers)
            if len(calls) == 2:
                stop.set()
            raise RuntimeError("boom")

        watcher = PlanWatcher(
            callback,
            interval_s=0.01,
            read_args=fake.read_args(),
            policy=Policy(),
            host=UNKNOWN_HOST,
        )
        _resize(tmp_path, "v2", 2000)
        thread = threading.Thread(target=watcher.run, args=(stop,))
        with caplog.at_level(logging.ERROR, logger="podself"):
            thread.start()
            while not calls:
                stop.wait(0.01)
            _resize(tmp_path, "v2", 3000)
            thread.join(30)
        assert calls == [2, 3]
        assert any("plan watcher" in r.getMessage() for r in caplog.records)

    def test_bad_interval(self) -> None:
        """A non-positive interval is refused."""
        with pytest.raises(ValueError, match="interval_s=0"):
            PlanWatcher(lambda new, old: None, interval_s=0)


class TestHost:
    """Host facts come from the /proc that was read."""

    def test_real_machine(self) -> None:
        """This machine has a memory size and at least one CPU."""
        host = Host.detect("/proc")
        assert host.memory_bytes is not None
        assert host.memory_bytes > 0
        assert host.cpus is not None
        assert host.cpus >= 1

    def test_fake_proc(self, tmp_path: Path) -> None:
        """An injected /proc is believed only for its meminfo."""
        (tmp_path / "meminfo").write_text("MemTotal:        2048 kB\nMemFree: 1 kB\n")
        assert Host(memory_bytes=2048 * 1024) == Host.detect(tmp_path)
        assert Host() == Host.detect(tmp_path / "missing")

    @pytest.mark.parametrize("kind", ["fifo", "huge", "negative"])
    def test_hostile_fake_meminfo(self, tmp_path: Path, kind: str) -> None:
        """A FIFO never blocks, a huge file is not slurped, nonsense is unknown memory."""
        meminfo = tmp_path / "meminfo"
        if kind == "fifo":
            os.mkfifo(meminfo)
        elif kind == "huge":
            meminfo.write_text("x" * (5 << 20) + "\nMemTotal: 2048 kB\n")
        else:
            meminfo.write_text("MemTotal: -2048 kB\n")
        assert Host() == Host.detect(tmp_path)

    def test_env_proc_root(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """$PODSELF_PROC_ROOT selects the /proc to describe, as podself.read does."""
        monkeypatch.setenv("PODSELF_PROC_ROOT", str(tmp_path))
        assert Host() == Host.detect()


class TestStartupCost:
    """podself.tuning stays off the runtime path."""

    def test_import_podself_does_not_import_tuning(self) -> None:
        """import podself + current() load neither tuning nor dataclasses."""
        code = (
            "import sys, podself; podself.current(); "
            "print('podself.tuning' in sys.modules, 'dataclasses' in sys.modules)"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
        assert out.strip() == "False False"

    def test_tuning_does_not_import_dataclasses_or_typing(self) -> None:
        """The exec path avoids the costliest stdlib imports."""
        code = (
            "import sys, podself.tuning; "
            "print(sorted(m for m in ('dataclasses', 'typing', 'threading', 'logging') "
            "if m in sys.modules))"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
        assert out.strip() == "[]"
