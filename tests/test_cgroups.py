"""Tests for podself.cgroups: v1, v2 and hybrid fixture trees, malformed files, this host."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from podself.cgroups import (
    CgroupLimits,
    cpu_affinity_count,
    millicores_to_shares,
    read_limits,
    shares_to_millicores,
    shares_to_weight,
    weight_to_millicores,
)
from podself.errors import CgroupError, PodselfError

FIXTURES = Path(__file__).parent / "fixtures" / "cgroups"
UID = "8f2b1c3e-4d5a-4b6c-9e7f-0a1b2c3d4e5f"
CID = "3f1e9c2b7a6d5e4f3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d"
INNER_CID = "9a8b7c6d5e4f30211203f4e5d6c7b8a99a8b7c6d5e4f30211203f4e5d6c7b8a9"
V2_LEAF = (
    "sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice/"
    f"kubepods-burstable-pod{UID.replace('-', '_')}.slice/cri-containerd-{CID}.scope"
)
NESTED_POD = f"sys/fs/cgroup/kubepods/burstable/pod{UID}"
NESTED_LEAF = f"{NESTED_POD}/{CID}"
V1_CPU = "sys/fs/cgroup/cpu,cpuacct"
V1_MEMORY = "sys/fs/cgroup/memory"
CGROUP2_LINE = (
    "30 23 0:26 {root} {mount} rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw\n"
)


def read(
    tree: Path, *, pid: str = "self", strict: bool = False, weight_formula: str = "quadratic"
) -> CgroupLimits:
    """read_limits on a fixture tree laid out as <tree>/proc and <tree>/sys/..."""
    return read_limits(
        proc_root=tree / "proc",
        fs_root=tree,
        pid=pid,
        strict=strict,
        weight_formula=weight_formula,
    )


def fixture(name: str) -> Path:
    return FIXTURES / name


def copy(name: str, tmp_path: Path) -> Path:
    """A writable copy of a fixture tree."""
    target = tmp_path / name.replace("/", "-")
    shutil.copytree(FIXTURES / name, target, symlinks=True)
    return target


def make_tree(root: Path, mountinfo: str, cgroup: str | None, files: dict[str, str]) -> Path:
    """A tree with the given /proc/self files and cgroup files (paths relative to root)."""
    (root / "proc" / "self").mkdir(parents=True)
    (root / "proc" / "self" / "mountinfo").write_text(mountinfo)
    if cgroup is not None:
        (root / "proc" / "self" / "cgroup").write_text(cgroup)
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def v2_tree(root: Path, cgroup_path: str, files: dict[str, str]) -> Path:
    """A v2 host-view tree (cgroup2 mounted at /sys/fs/cgroup with root "/")."""
    mountinfo = CGROUP2_LINE.format(root="/", mount="/sys/fs/cgroup")
    return make_tree(root, mountinfo, f"0::{cgroup_path}\n", files)


class TestCgroupV1:
    """cgroup v1 containers (cgroupfs driver) and the memory.stat hierarchy limit."""

    def test_reads_quota_period_and_memory(self) -> None:
        """The v1 fixture gives 50000/100000 µs (500m) and 512 MiB from the leaf files."""
        tree = fixture("v1")
        limits = read(tree)
        assert limits.version == 1
        assert (limits.cpu_quota_us, limits.cpu_period_us) == (50000, 100000)
        assert limits.cpu_limit_millicores == 500
        assert limits.cpu_source == f"{tree}/{V1_CPU}/cpu.cfs_quota_us"
        assert limits.memory_limit_bytes == 536870912
        # memory.stat agrees; the more specific limit file is named as the source.
        assert limits.memory_source == f"{tree}/{V1_MEMORY}/memory.limit_in_bytes"
        assert limits.warnings == ()

    def test_shares_give_the_request(self) -> None:
        """cpu.shares 256 is the kubelet's value for a 250m request."""
        limits = read(fixture("v1"))
        assert limits.cpu_shares == 256
        assert limits.cpu_weight is None
        assert limits.cpu_request_millicores == 250
        assert limits.cpu_request_formula == "shares"

    def test_pod_and_container_from_cgroupfs_path(self) -> None:
        """/kubepods/burstable/pod<uid>/<id> names the pod UID and the container ID."""
        limits = read(fixture("v1"))
        assert limits.pod_uid == UID
        assert limits.container_id == CID

    def test_hierarchical_limit_tighter_than_leaf(self) -> None:
        """An unlimited leaf under a limited ancestor reports memory.stat's hierarchical limit."""
        tree = fixture("v1-hierarchical")
        limits = read(tree)
        assert limits.memory_limit_bytes == 7836004352
        assert limits.memory_source == f"{tree}/{V1_MEMORY}/memory.stat"
        assert limits.cpu_limit_millicores is None
        assert limits.warnings == ()

    def test_besteffort_shares_read_as_zero_request(self) -> None:
        """cpu.shares 2 (the floor the kubelet writes for no request) estimates 0m."""
        limits = read(fixture("v1-hierarchical"))
        assert limits.cpu_shares == 2
        assert limits.cpu_request_millicores == 0

    def test_name_systemd_hierarchy_is_ignored(self, tmp_path: Path) -> None:
        """A name=systemd hierarchy carries no controller and is never read for limits."""
        mountinfo = (
            "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
        )
        tree = make_tree(
            tmp_path,
            mountinfo,
            "1:name=systemd:/\n",
            {"sys/fs/cgroup/systemd/memory.limit_in_bytes": "1048576\n"},
        )
        limits = read(tree)
        assert limits.version is None
        assert limits.memory_limit_bytes is None

    def test_walks_up_to_the_mount_root(self, tmp_path: Path) -> None:
        """On a host view the tightest of leaf, parents and root wins, with its file named."""
        mountinfo = "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
        files = {
            "sys/fs/cgroup/cpu/cpu.cfs_quota_us": "-1\n",
            "sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000\n",
            "sys/fs/cgroup/cpu/a/cpu.cfs_quota_us": "30000\n",
            "sys/fs/cgroup/cpu/a/cpu.cfs_period_us": "100000\n",
            "sys/fs/cgroup/cpu/a/b/cpu.cfs_quota_us": "100000\n",
            "sys/fs/cgroup/cpu/a/b/cpu.cfs_period_us": "50000\n",
        }
        tree = make_tree(tmp_path, mountinfo, "2:cpu,cpuacct:/a/b\n", files)
        limits = read(tree)
        assert (limits.cpu_quota_us, limits.cpu_period_us) == (30000, 100000)
        assert limits.cpu_limit_millicores == 300
        assert limits.cpu_source == f"{tree}/sys/fs/cgroup/cpu/a/cpu.cfs_quota_us"


class TestCgroupV2:
    """cgroup v2: systemd and cgroupfs drivers, nested limits, cgroup namespaces."""

    def test_reads_cpu_max_and_memory_max(self) -> None:
        """The v2 fixture gives "200000 100000" (2000m) and 1 GiB."""
        tree = fixture("v2")
        limits = read(tree)
        assert limits.version == 2
        assert (limits.cpu_quota_us, limits.cpu_period_us) == (200000, 100000)
        assert limits.cpu_limit_millicores == 2000
        assert limits.memory_limit_bytes == 1073741824
        assert limits.warnings == ()

    def test_equal_limits_name_the_leaf(self) -> None:
        """When the pod and the container set the same limit, the container's file is named."""
        tree = fixture("v2")
        limits = read(tree)
        assert limits.cpu_source == f"{tree}/{V2_LEAF}/cpu.max"
        assert limits.memory_source == f"{tree}/{V2_LEAF}/memory.max"

    def test_pod_and_container_from_systemd_slices(self) -> None:
        """kubepods-burstable-pod<uid with _>.slice/cri-containerd-<id>.scope is parsed."""
        limits = read(fixture("v2"))
        assert limits.pod_uid == UID
        assert limits.container_id == CID

    def test_weight_gives_the_request(self) -> None:
        """cpu.weight 59 is what runc >= 1.3.2 writes for a 500m request."""
        limits = read(fixture("v2"))
        assert limits.cpu_weight == 59
        assert limits.cpu_shares is None
        assert limits.cpu_request_millicores == 500
        assert limits.cpu_request_formula == "weight-quadratic"

    def test_parent_tighter_than_unlimited_leaf(self) -> None:
        """A leaf "max" under a pod "200000 100000" reports the pod's limit (golang/go#81180)."""
        tree = fixture("v2-nested")
        limits = read(tree)
        assert limits.cpu_limit_millicores == 2000
        assert limits.cpu_source == f"{tree}/{NESTED_POD}/cpu.max"
        assert limits.memory_limit_bytes == 268435456
        assert limits.memory_source == f"{tree}/{NESTED_POD}/memory.max"
        assert limits.pod_uid == UID
        assert limits.container_id == CID
        assert limits.warnings == ()

    def test_cgroup_namespace_reads_its_root(self) -> None:
        """With a cgroup namespace ("0::/", mount root "/") the mount point is the leaf."""
        tree = fixture("cgroupns")
        limits = read(tree)
        assert limits.version == 2
        assert limits.cpu_limit_millicores == 1000
        assert limits.cpu_source == f"{tree}/sys/fs/cgroup/cpu.max"
        assert limits.memory_limit_bytes == 268435456
        assert limits.pod_uid is None
        assert limits.container_id is None
        assert limits.warnings == ()

    def test_non_default_weight_estimated_without_pod_path(self) -> None:
        """A weight other than the kernel default (35 here) is estimated even without a pod path."""
        limits = read(fixture("cgroupns"))
        assert limits.cpu_weight == 35
        assert limits.cpu_request_millicores == 250

    def test_one_field_cpu_max_uses_default_period(self, tmp_path: Path) -> None:
        """A cpu.max with only a quota is read with the 100000 µs default period."""
        tree = v2_tree(tmp_path, "/", {"sys/fs/cgroup/cpu.max": "150000\n"})
        limits = read(tree)
        assert (limits.cpu_quota_us, limits.cpu_period_us) == (150000, 100000)
        assert limits.cpu_limit_millicores == 1500

    def test_fractional_millicores_round_up(self, tmp_path: Path) -> None:
        """33333/100000 µs is 333.33m and reports 334m: a limit is never rounded down."""
        tree = v2_tree(tmp_path, "/", {"sys/fs/cgroup/cpu.max": "33333 100000\n"})
        assert read(tree).cpu_limit_millicores == 334

    def test_root_cgroup_without_files_is_unlimited(self, tmp_path: Path) -> None:
        """A process in the real root cgroup (no cpu.max, memory.max) has no limit, quietly."""
        tree = v2_tree(tmp_path, "/", {"sys/fs/cgroup/cgroup.controllers": "cpu memory\n"})
        limits = read(tree)
        assert limits.version == 2
        assert limits.cpu_limit_millicores is None
        assert limits.memory_limit_bytes is None
        assert limits.warnings == ()

    def test_paths_accept_str(self) -> None:
        """proc_root and fs_root may be given as plain strings."""
        tree = fixture("v2")
        limits = read_limits(proc_root=str(tree / "proc"), fs_root=str(tree) + "/")
        assert limits == read(tree)

    def test_pid_selects_the_process(self, tmp_path: Path) -> None:
        """pid (a string or an int) picks /proc/<pid>/... instead of /proc/self/..."""
        tree = copy("v2", tmp_path)
        (tree / "proc" / "self").rename(tree / "proc" / "4242")
        assert read(tree, pid="4242").cpu_limit_millicores == 2000
        by_int = read_limits(proc_root=tree / "proc", fs_root=tree, pid=4242)
        assert by_int.cpu_limit_millicores == 2000
        assert read(tree).version is None

    def test_short_reads_are_completed(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Files that return a few bytes per read() (FUSE, virtualised /proc) are read whole."""
        expected = read(fixture("v2"))
        real_read = os.read
        monkeypatch.setattr(os, "read", lambda fd, n: real_read(fd, min(n, 7)))
        assert read(fixture("v2")) == expected

    def test_special_files_never_block(self, tmp_path: Path) -> None:
        """A FIFO planted as a cgroup or /proc file under a fake root is refused at once."""
        tree = v2_tree(tmp_path, "/", {"sys/fs/cgroup/cpu.max": "150000\n"})
        os.mkfifo(tree / "sys/fs/cgroup/memory.max")
        (tree / "proc/meminfo").unlink(missing_ok=True)
        os.mkfifo(tree / "proc/meminfo")
        limits = read(tree)
        assert limits.cpu_limit_millicores == 1500
        assert limits.memory_limit_bytes is None
        assert limits.warnings == (
            f'cgroup file "{tree}/sys/fs/cgroup/memory.max": cannot be read '
            "(EINVAL: not a regular file)",
        )

    def test_huge_file_is_refused(self, tmp_path: Path) -> None:
        """No cgroup or /proc file is read past 4 MiB, whatever it claims."""
        tree = v2_tree(tmp_path, "/", {"sys/fs/cgroup/cpu.max": "150000" + " " * (5 << 20)})
        limits = read(tree)
        assert limits.cpu_limit_millicores is None
        assert limits.warnings == (
            f'cgroup file "{tree}/sys/fs/cgroup/cpu.max": cannot be read '
            f"(EFBIG: larger than {4 << 20} bytes)",
        )


class TestHybrid:
    """Hybrid hosts: v1 controllers beside a unified hierarchy."""

    def test_empty_unified_falls_back_to_v1(self) -> None:
        """An empty cgroup.controllers in the unified mount sends both controllers to v1."""
        tree = fixture("hybrid")
        limits = read(tree)
        assert limits.version == 1
        assert limits.cpu_limit_millicores == 1500
        assert limits.memory_limit_bytes == 805306368
        assert limits.cpu_source is not None
        assert "/cpu,cpuacct/system.slice/docker-" in limits.cpu_source
        assert limits.warnings == ()

    def test_docker_scope_names_container(self) -> None:
        """docker-<id>.scope gives the container ID; there is no pod."""
        limits = read(fixture("hybrid"))
        assert limits.container_id == CID
        assert limits.pod_uid is None

    def test_default_shares_are_no_request(self) -> None:
        """1024 shares outside a pod is the kernel default, not a request: no estimate."""
        limits = read(fixture("hybrid"))
        assert limits.cpu_shares == 1024
        assert limits.cpu_request_millicores is None
        assert limits.cpu_request_formula is None

    def test_unified_serves_enabled_controller(self, tmp_path: Path) -> None:
        """A controller listed in the unified leaf's cgroup.controllers is read from v2."""
        mountinfo = (
            "29 28 0:26 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
            "32 28 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
            "35 28 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
        )
        files = {
            "sys/fs/cgroup/unified/app/cgroup.controllers": "memory\n",
            "sys/fs/cgroup/unified/app/memory.max": "104857600\n",
            "sys/fs/cgroup/memory/app/memory.limit_in_bytes": "999999999\n",
            "sys/fs/cgroup/cpu/app/cpu.cfs_quota_us": "20000\n",
            "sys/fs/cgroup/cpu/app/cpu.cfs_period_us": "100000\n",
        }
        tree = make_tree(tmp_path, mountinfo, "4:memory:/app\n2:cpu,cpuacct:/app\n0::/app\n", files)
        limits = read(tree)
        assert limits.memory_limit_bytes == 104857600
        assert limits.memory_source == f"{tree}/sys/fs/cgroup/unified/app/memory.max"
        assert limits.cpu_limit_millicores == 200
        assert limits.version == 1  # CPU still comes from a v1 hierarchy

    def test_missing_cgroup_controllers_checks_files(self, tmp_path: Path) -> None:
        """Without cgroup.controllers (gVisor) the presence of memory.max decides."""
        mountinfo = (
            "29 28 0:26 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
            "35 28 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
        )
        files = {
            "sys/fs/cgroup/unified/memory.max": "209715200\n",
            "sys/fs/cgroup/memory/memory.limit_in_bytes": "999999999\n",
        }
        tree = make_tree(tmp_path, mountinfo, "4:memory:/\n0::/\n", files)
        assert read(tree).memory_limit_bytes == 209715200


class TestMemoryHigh:
    """The soft limit: v2 memory.high, v1 memory.soft_limit_in_bytes, only when below the hard."""

    @pytest.mark.parametrize(
        ("high", "expected"),
        [("268435456\n", 268435456), ("max\n", None), ("1073741824\n", None)],
    )
    def test_v2_memory_high(self, tmp_path: Path, high: str, expected: int | None) -> None:
        """256 MiB under a 512 MiB limit is read; "max" and a value at the limit are not."""
        files = {
            "sys/fs/cgroup/app/memory.max": "536870912\n",
            "sys/fs/cgroup/app/memory.high": high,
        }
        limits = read(v2_tree(tmp_path, "/app", files))
        assert limits.memory_high_bytes == expected
        if expected is not None:
            assert limits.memory_high_source == f"{tmp_path}/sys/fs/cgroup/app/memory.high"

    def test_v1_soft_limit(self, tmp_path: Path) -> None:
        """v1's soft limit, with the kernel's "unlimited" value meaning none."""
        mountinfo = "35 28 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
        files = {
            "sys/fs/cgroup/memory/app/memory.limit_in_bytes": "536870912\n",
            "sys/fs/cgroup/memory/app/memory.soft_limit_in_bytes": "134217728\n",
            "sys/fs/cgroup/memory/memory.soft_limit_in_bytes": "9223372036854771712\n",
        }
        tree = make_tree(tmp_path, mountinfo, "4:memory:/app\n", files)
        assert read(tree).memory_high_bytes == 134217728

    def test_reader_exposes_it(self, tmp_path: Path) -> None:
        """podself.read puts it on resources.memory_high with the file as its source."""
        from podself.pod import read as read_pod

        files = {"sys/fs/cgroup/app/memory.high": "268435456\n"}
        tree = v2_tree(tmp_path, "/app", files)
        info = read_pod(
            environ={},
            proc_root=tree / "proc",
            cgroup_root=tree,
            podinfo_dirs=[],
            serviceaccount_dir=tmp_path / "no-sa",
            hosts_file=tmp_path / "no-hosts",
        )
        assert info.resources.memory_high == 268435456
        assert info.source_of("resources.memory_high").kind == "cgroup"


class TestUnlimited:
    """ "No limit" is None, never an error."""

    def test_v1_minus_one_and_sentinel(self) -> None:
        """v1 quota -1 and memory 9223372036854771712 are no limit."""
        limits = read(fixture("unlimited/v1"))
        assert limits.version == 1
        assert limits.cpu_quota_us is None
        assert limits.cpu_period_us is None
        assert limits.cpu_limit_millicores is None
        assert limits.cpu_source is None
        assert limits.memory_limit_bytes is None
        assert limits.memory_source is None
        assert limits.warnings == ()

    def test_v2_max(self) -> None:
        """v2 "max 100000" and "max" are no limit; weight 100 is the default, no estimate."""
        limits = read(fixture("unlimited/v2"))
        assert limits.version == 2
        assert limits.cpu_limit_millicores is None
        assert limits.memory_limit_bytes is None
        assert limits.cpu_weight == 100
        assert limits.cpu_request_millicores is None
        assert limits.warnings == ()

    @pytest.mark.parametrize(
        "value",
        [
            "9223372036854771712\n",  # 4 KiB pages
            "9223372036854710272\n",  # 64 KiB pages (arm64)
            "4611686018427387904\n",  # 2**62, the threshold itself
        ],
    )
    def test_v1_memory_sentinels(self, tmp_path: Path, value: str) -> None:
        """Any v1 memory limit of 2**62 or more is the kernel's unlimited."""
        tree = copy("v1", tmp_path)
        (tree / V1_MEMORY / "memory.limit_in_bytes").write_text(value)
        (tree / V1_MEMORY / "memory.stat").write_text(f"hierarchical_memory_limit {value}")
        limits = read(tree)
        assert limits.memory_limit_bytes is None
        assert limits.warnings == ()

    def test_v2_single_max(self, tmp_path: Path) -> None:
        """A cpu.max of just "max" is no limit."""
        tree = v2_tree(tmp_path, "/", {"sys/fs/cgroup/cpu.max": "max\n"})
        limits = read(tree)
        assert limits.cpu_limit_millicores is None
        assert limits.warnings == ()

    def test_no_cgroup_mounts(self) -> None:
        """A mount table without cgroup file systems gives version None, quietly."""
        limits = read(fixture("no-cgroup"))
        assert limits == CgroupLimits()
        assert limits.version is None

    def test_no_proc_at_all(self, tmp_path: Path) -> None:
        """No /proc (macOS) gives version None without warnings, even in strict mode."""
        assert read_limits(proc_root=tmp_path / "absent", strict=True) == CgroupLimits()

    def test_limit_above_machine_memory_is_no_limit(self, tmp_path: Path) -> None:
        """A memory limit larger than the machine's MemTotal cannot bind and reads as None."""
        tree = copy("v2", tmp_path)
        (tree / "proc" / "meminfo").write_text(
            "MemTotal:         1000000 kB\nMemFree:          500000 kB\n"
        )
        limits = read(tree)
        assert limits.memory_limit_bytes is None
        assert limits.memory_source is None
        assert limits.cpu_limit_millicores == 2000

    def test_limit_equal_to_machine_memory_is_kept(self, tmp_path: Path) -> None:
        """A limit equal to MemTotal (a virtualised /proc/meminfo) is still a limit."""
        tree = copy("v2", tmp_path)
        (tree / "proc" / "meminfo").write_text("MemTotal:        1048576 kB\n")
        assert read(tree).memory_limit_bytes == 1073741824


MALFORMED = [
    # (fixture, file, content, words of the rule)
    ("v2", f"{V2_LEAF}/cpu.max", "abc\n", 'quota must be "max"'),
    ("v2", f"{V2_LEAF}/cpu.max", "", "empty"),
    ("v2", f"{V2_LEAF}/cpu.max", "200000 100000 7\n", "found 3 fields"),
    ("v2", f"{V2_LEAF}/cpu.max", "200000 0\n", "period must be positive"),
    ("v2", f"{V2_LEAF}/cpu.max", "-200000 100000\n", "quota must be positive"),
    ("v2", f"{V2_LEAF}/cpu.max", "200000 abc\n", "period must be a whole number"),
    ("v2", f"{V2_LEAF}/cpu.max", "2_00000 100000\n", 'quota must be "max"'),
    ("v1", f"{V1_CPU}/cpu.cfs_quota_us", "max\n", "expected -1 or a whole number"),
    ("v1", f"{V1_CPU}/cpu.cfs_quota_us", "abc\n", "expected -1 or a whole number"),
    ("v1", f"{V1_CPU}/cpu.cfs_quota_us", "", "expected -1 or a whole number"),
    ("v1", f"{V1_CPU}/cpu.cfs_quota_us", "-2\n", "quota must be -1 or positive"),
    ("v1", f"{V1_CPU}/cpu.cfs_quota_us", "0\n", "quota must be -1 or positive"),
    ("v1", f"{V1_CPU}/cpu.cfs_period_us", "0\n", "period must be positive"),
    ("v1", f"{V1_CPU}/cpu.cfs_period_us", "x\n", "expected period"),
]


class TestMalformed:
    """Malformed files skip their level with a warning; strict mode raises."""

    @pytest.mark.parametrize(("name", "rel", "content", "rule"), MALFORMED)
    def test_bad_cpu_file_skips_level(
        self, tmp_path: Path, name: str, rel: str, content: str, rule: str
    ) -> None:
        """The malformed CPU file is skipped and named in one warning with rule and value."""
        tree = copy(name, tmp_path)
        (tree / rel).write_text(content)
        limits = read(tree)
        if name == "v2":  # the pod slice holds the same limit, one level up
            assert limits.cpu_limit_millicores == 2000
            assert limits.cpu_source is not None
            assert V2_LEAF not in limits.cpu_source
        else:
            assert limits.cpu_limit_millicores is None
        assert len(limits.warnings) == 1
        warning = limits.warnings[0]
        assert f'"{tree / rel}"' in warning
        assert rule in warning
        shown = content.replace("\n", "\\n")
        assert f'got "{shown}"' in warning

    @pytest.mark.parametrize(("name", "rel", "content", "rule"), MALFORMED)
    def test_strict_raises_naming_file_rule_value(
        self, tmp_path: Path, name: str, rel: str, content: str, rule: str
    ) -> None:
        """strict=True raises CgroupError whose message names the file, the rule and the value."""
        tree = copy(name, tmp_path)
        (tree / rel).write_text(content)
        with pytest.raises(CgroupError) as caught:
            read(tree, strict=True)
        message = str(caught.value)
        assert str(tree / rel) in message
        assert rule in message
        assert isinstance(caught.value, PodselfError)

    @pytest.mark.parametrize(
        ("name", "rel", "content", "rule"),
        [
            ("v2", f"{V2_LEAF}/memory.max", "abc\n", 'expected "max" or a number of bytes'),
            ("v2", f"{V2_LEAF}/memory.max", "0\n", "must be positive"),
            ("v1", f"{V1_MEMORY}/memory.limit_in_bytes", "max\n", "expected a number of bytes"),
            ("v1", f"{V1_MEMORY}/memory.limit_in_bytes", "-1\n", "must be positive"),
        ],
    )
    def test_bad_memory_file_skips_level(
        self, tmp_path: Path, name: str, rel: str, content: str, rule: str
    ) -> None:
        """A malformed memory file is skipped; other levels or memory.stat still count."""
        tree = copy(name, tmp_path)
        (tree / rel).write_text(content)
        limits = read(tree)
        # v2: the pod slice has the same 1 GiB; v1: memory.stat's hierarchical limit remains.
        assert limits.memory_limit_bytes == (1073741824 if name == "v2" else 536870912)
        assert len(limits.warnings) == 1
        assert rule in limits.warnings[0]

    def test_bad_hierarchical_limit(self, tmp_path: Path) -> None:
        """A non-numeric hierarchical_memory_limit is a warning; the leaf limit still counts."""
        tree = copy("v1", tmp_path)
        (tree / V1_MEMORY / "memory.stat").write_text("cache 0\nhierarchical_memory_limit x\n")
        limits = read(tree)
        assert limits.memory_limit_bytes == 536870912
        assert len(limits.warnings) == 1
        assert "hierarchical_memory_limit" in limits.warnings[0]

    def test_fixture_skips_each_broken_level(self) -> None:
        """The malformed fixture: leaf cpu.max "abc", empty memory.max, weight 0; pod limits win."""
        tree = fixture("malformed")
        limits = read(tree)
        assert limits.cpu_limit_millicores == 3000
        assert limits.memory_limit_bytes == 1073741824
        assert limits.cpu_weight is None
        assert limits.cpu_request_millicores is None
        assert len(limits.warnings) == 3
        assert any("cpu.max" in w and 'got "abc\\n"' in w for w in limits.warnings)
        assert any("memory.max" in w and 'got ""' in w for w in limits.warnings)
        assert any("cpu.weight" in w and "ignored" in w for w in limits.warnings)

    def test_fixture_strict_raises_first_problem(self) -> None:
        """In strict mode the malformed fixture raises on the leaf's cpu.max."""
        with pytest.raises(CgroupError, match=r'cpu\.max": quota must be "max"'):
            read(fixture("malformed"), strict=True)

    @pytest.mark.parametrize("content", ["1\n", "262145\n", "x\n"])
    def test_shares_out_of_range_ignored(self, tmp_path: Path, content: str) -> None:
        """cpu.shares outside [2, 262144] is ignored with a warning; limits are unaffected."""
        tree = copy("v1", tmp_path)
        (tree / V1_CPU / "cpu.shares").write_text(content)
        limits = read(tree)
        assert limits.cpu_shares is None
        assert limits.cpu_request_millicores is None
        assert limits.cpu_limit_millicores == 500
        assert "between 2 and 262144" in limits.warnings[0]

    def test_huge_number_is_malformed(self, tmp_path: Path) -> None:
        """A 5000-digit value is malformed (no int() digit-limit error escapes)."""
        tree = copy("v2", tmp_path)
        (tree / V2_LEAF / "memory.max").write_text("9" * 5000 + "\n")
        limits = read(tree)
        assert limits.memory_limit_bytes == 1073741824  # the pod slice's limit
        assert len(limits.warnings) == 1
        assert "..." in limits.warnings[0]  # the value is shown shortened

    def test_undecodable_bytes_in_membership(self, tmp_path: Path) -> None:
        """Bytes that are not UTF-8 in /proc/self/cgroup give a warning, not an exception."""
        tree = copy("cgroupns", tmp_path)
        (tree / "proc" / "self" / "cgroup").write_bytes(b"bad\xff line\n0::/\n")
        limits = read(tree)
        assert limits.cpu_limit_millicores == 1000
        assert len(limits.warnings) == 1
        assert "\ufffd" in limits.warnings[0]

    def test_bad_cgroup_membership_line(self, tmp_path: Path) -> None:
        """A /proc/self/cgroup line without two colons is a warning; the others are used."""
        tree = copy("cgroupns", tmp_path)
        (tree / "proc" / "self" / "cgroup").write_text("garbage\n0::/\n")
        limits = read(tree)
        assert limits.cpu_limit_millicores == 1000
        assert len(limits.warnings) == 1
        assert 'got "garbage"' in limits.warnings[0]

    def test_bad_mountinfo_line(self, tmp_path: Path) -> None:
        """A cgroup mountinfo line without the "-" separator is a warning and is skipped."""
        tree = copy("cgroupns", tmp_path)
        path = tree / "proc" / "self" / "mountinfo"
        path.write_text("31 23 0:28 / /sys/fs/cgroup/x rw cgroup2 cgroup2 rw\n" + path.read_text())
        limits = read(tree)
        assert limits.cpu_limit_millicores == 1000
        assert len(limits.warnings) == 1
        assert 'no "-" separator' in limits.warnings[0]


class TestUnreadable:
    """EACCES and vanished cgroups are warnings, never crashes."""

    def test_eacces_via_os_open(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """An EACCES on memory.limit_in_bytes is a warning naming the file and EACCES."""
        tree = copy("v1", tmp_path)
        denied = str(tree / V1_MEMORY / "memory.limit_in_bytes")
        real_open = os.open

        def fake_open(path: str, flags: int, *args: int, **kwargs: int) -> int:
            if os.fspath(path) == denied:
                raise PermissionError(errno.EACCES, "Permission denied", path)
            return real_open(path, flags, *args, **kwargs)

        monkeypatch.setattr(os, "open", fake_open)
        limits = read(tree)
        assert limits.memory_limit_bytes == 536870912  # memory.stat still readable
        assert limits.memory_source is not None
        assert limits.memory_source.endswith("memory.stat")
        assert len(limits.warnings) == 1
        assert denied in limits.warnings[0]
        assert "EACCES" in limits.warnings[0]
        with pytest.raises(CgroupError, match="EACCES"):
            read(tree, strict=True)

    @pytest.mark.skipif(
        not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root ignores file modes"
    )
    def test_eacces_via_chmod(self, tmp_path: Path) -> None:
        """A cpu.max with mode 000 is skipped with an EACCES warning."""
        tree = copy("v2", tmp_path)
        target = tree / V2_LEAF / "cpu.max"
        target.chmod(0)
        try:
            limits = read(tree)
        finally:
            target.chmod(0o644)
        assert limits.cpu_limit_millicores == 2000  # from the pod slice
        assert any("EACCES" in w for w in limits.warnings)

    def test_unreadable_mountinfo(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """An unreadable mountinfo (e.g. a confined snap) gives version None with a warning."""
        tree = copy("v2", tmp_path)
        real_open = os.open

        def fake_open(path: str, flags: int, *args: int, **kwargs: int) -> int:
            if os.fspath(path).endswith("/mountinfo"):
                raise PermissionError(errno.EACCES, "Permission denied", path)
            return real_open(path, flags, *args, **kwargs)

        monkeypatch.setattr(os, "open", fake_open)
        limits = read(tree)
        assert limits.version is None
        assert len(limits.warnings) == 1
        assert "mountinfo" in limits.warnings[0]

    def test_vanished_leaf_directory(self, tmp_path: Path) -> None:
        """A leaf cgroup that no longer exists is one warning; the ancestors still limit."""
        tree = copy("v2", tmp_path)
        shutil.rmtree(tree / V2_LEAF)
        limits = read(tree)
        assert limits.cpu_limit_millicores == 2000
        assert limits.memory_limit_bytes == 1073741824
        assert limits.cpu_weight is None
        # One warning although both the cpu and the memory walk met the missing directory.
        assert [w for w in limits.warnings if "does not exist" in w] == [limits.warnings[0]]
        assert len(limits.warnings) == 1

    def test_missing_cgroup_membership(self, tmp_path: Path) -> None:
        """Without /proc/self/cgroup the mount points are read, with a warning."""
        tree = copy("cgroupns", tmp_path)
        (tree / "proc" / "self" / "cgroup").unlink()
        limits = read(tree)
        assert limits.cpu_limit_millicores == 1000
        assert len(limits.warnings) == 1
        assert "ENOENT" in limits.warnings[0]


class TestMountResolution:
    """Translating /proc/self/cgroup paths through mountinfo roots."""

    def test_not_descendant_falls_back_to_mount_point(self) -> None:
        """A path outside the mount root reads the mount point, with a warning per hierarchy."""
        tree = fixture("not-descendant")
        limits = read(tree)
        assert limits.cpu_limit_millicores == 250
        assert limits.memory_limit_bytes == 134217728
        assert limits.container_id == INNER_CID
        assert len(limits.warnings) == 2
        assert all("is not below the root" in w for w in limits.warnings)

    def test_not_descendant_strict_raises(self) -> None:
        """strict=True turns the not-below-the-root fallback into CgroupError."""
        with pytest.raises(CgroupError, match="is not below the root"):
            read(fixture("not-descendant"), strict=True)

    def test_octal_escaped_mount_point(self, tmp_path: Path) -> None:
        """A mount point with a space (\\040 in mountinfo) is unescaped before reading."""
        mountinfo = CGROUP2_LINE.format(root="/", mount="/sys/fs/my\\040cgroup\\011x")
        tree = make_tree(
            tmp_path, mountinfo, "0::/app\n", {"sys/fs/my cgroup\tx/app/memory.max": "4096\n"}
        )
        limits = read(tree)
        assert limits.memory_limit_bytes == 4096
        assert limits.memory_source == f"{tree}/sys/fs/my cgroup\tx/app/memory.max"

    def test_optional_fields_before_separator(self, tmp_path: Path) -> None:
        """Several optional fields (shared:, master:, propagate_from:) precede the "-"."""
        mountinfo = (
            "30 23 0:26 / /sys/fs/cgroup rw,relatime shared:4 master:1 propagate_from:2 "
            "unbindable - cgroup2 cgroup2 rw\n"
        )
        tree = make_tree(tmp_path, mountinfo, "0::/\n", {"sys/fs/cgroup/cpu.max": "5000 10000\n"})
        assert read(tree).cpu_limit_millicores == 500

    def test_mount_root_strips_prefix(self, tmp_path: Path) -> None:
        """A mount rooted at /kubepods maps /kubepods/pod/c to <mount point>/pod/c."""
        mountinfo = CGROUP2_LINE.format(root="/kubepods", mount="/sys/fs/cgroup")
        files = {
            "sys/fs/cgroup/pod/c/memory.max": "max\n",
            "sys/fs/cgroup/pod/memory.max": "8192\n",
            "sys/fs/cgroup/memory.max": "4096\n",
        }
        tree = make_tree(tmp_path, mountinfo, "0::/kubepods/pod/c\n", files)
        limits = read(tree)
        assert limits.memory_limit_bytes == 4096
        assert limits.memory_source == f"{tree}/sys/fs/cgroup/memory.max"

    def test_picks_mount_holding_the_path(self, tmp_path: Path) -> None:
        """Of two mounts of one hierarchy, the one whose root holds the path is used."""
        mountinfo = (
            "35 28 0:32 /other /sys/fs/cgroup/a rw - cgroup cgroup rw,memory\n"
            "36 28 0:32 /pod /sys/fs/cgroup/b rw - cgroup cgroup rw,memory\n"
        )
        files = {
            "sys/fs/cgroup/a/c/memory.limit_in_bytes": "1111\n",
            "sys/fs/cgroup/b/c/memory.limit_in_bytes": "2222\n",
        }
        tree = make_tree(tmp_path, mountinfo, "5:memory:/pod/c\n", files)
        limits = read(tree)
        assert limits.memory_limit_bytes == 2222
        assert limits.warnings == ()

    def test_dotdot_path_is_not_below_root(self, tmp_path: Path) -> None:
        """A namespaced path leaving the namespace ("/../x") falls back to the mount point."""
        mountinfo = CGROUP2_LINE.format(root="/", mount="/sys/fs/cgroup")
        tree = make_tree(
            tmp_path, mountinfo, "0::/../other\n", {"sys/fs/cgroup/memory.max": "4096\n"}
        )
        limits = read(tree)
        assert limits.memory_limit_bytes == 4096
        assert "is not below the root" in limits.warnings[0]


IDENTITY = [
    # cgroupfs driver, every QoS class (guaranteed has no QoS level).
    (f"/kubepods/burstable/pod{UID}/{CID}", UID, CID),
    (f"/kubepods/besteffort/pod{UID}/{CID}", UID, CID),
    (f"/kubepods/pod{UID}/{CID}", UID, CID),
    (f"/kubepods/burstable/pod{UID}/crio-{CID}", UID, CID),
    # systemd driver: containerd, CRI-O, Docker (dockershim / cri-dockerd).
    (
        f"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{UID.replace('-', '_')}"
        f".slice/cri-containerd-{CID}.scope",
        UID,
        CID,
    ),
    (
        f"/kubepods.slice/kubepods-pod{UID.replace('-', '_')}.slice/crio-{CID}.scope",
        UID,
        CID,
    ),
    (
        f"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod"
        f"{UID.replace('-', '_')}.slice/docker-{CID}.scope",
        UID,
        CID,
    ),
    # kind nests the kubelet's slices under kubelet.slice.
    (
        f"/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-burstable.slice/"
        f"kubelet-kubepods-burstable-pod{UID.replace('-', '_')}.slice/cri-containerd-{CID}.scope",
        UID,
        CID,
    ),
    # CRI-O's conmon scope is not the container.
    (
        f"/kubepods.slice/kubepods-pod{UID.replace('-', '_')}.slice/crio-conmon-{CID}.scope",
        UID,
        None,
    ),
    # Static pods have a 32-hex-digit UID.
    (f"/kubepods/burstable/pod0123456789abcdef0123456789abcdef/{CID}", "0123456789abcdef" * 2, CID),
    # Outside Kubernetes.
    (f"/docker/{CID}", None, CID),
    (f"/system.slice/docker-{CID}.scope", None, CID),
    ("/user.slice/user-1000.slice/session-2.scope", None, None),
    ("/", None, None),
    ("/kubepods/burstable/podnot-a-uid/short", None, None),
]


class TestIdentity:
    """Pod UID and container ID from the cgroup path."""

    @pytest.mark.parametrize(("path", "uid", "cid"), IDENTITY)
    def test_v2_paths(self, tmp_path: Path, path: str, uid: str | None, cid: str | None) -> None:
        """The v2 line's path gives the expected pod UID and container ID."""
        tree = v2_tree(tmp_path, path, {})
        limits = read(tree)
        assert (limits.pod_uid, limits.container_id) == (uid, cid)

    @pytest.mark.parametrize(("path", "uid", "cid"), IDENTITY)
    def test_v1_paths(self, tmp_path: Path, path: str, uid: str | None, cid: str | None) -> None:
        """The same paths on a v1 memory line give the same identity."""
        mountinfo = "35 28 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
        tree = make_tree(tmp_path, mountinfo, f"5:memory:{path}\n1:name=systemd:/\n0::/\n", {})
        limits = read(tree)
        assert (limits.pod_uid, limits.container_id) == (uid, cid)

    def test_pod_path_makes_default_shares_a_request(self, tmp_path: Path) -> None:
        """Inside a pod, 1024 shares is the kubelet's value for exactly 1000m."""
        mountinfo = "32 28 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu,cpuacct\n"
        leaf = f"/kubepods/burstable/pod{UID}/{CID}"
        tree = make_tree(
            tmp_path,
            mountinfo,
            f"2:cpu,cpuacct:{leaf}\n",
            {f"sys/fs/cgroup/cpu{leaf}/cpu.shares": "1024\n"},
        )
        limits = read(tree)
        assert limits.cpu_shares == 1024
        assert limits.cpu_request_millicores == 1000


class TestWeightFormula:
    """The v2 request estimate under either runtime conversion."""

    def test_linear_formula_option(self, tmp_path: Path) -> None:
        """weight_formula="linear" reads weight 39 (1024 shares under runc < 1.3.2) as 1000m."""
        tree = copy("v2", tmp_path)
        (tree / V2_LEAF / "cpu.weight").write_text("39\n")
        limits = read(tree, weight_formula="linear")
        assert limits.cpu_request_millicores == 1000
        assert limits.cpu_request_formula == "weight-linear"

    def test_unknown_formula_rejected(self) -> None:
        """An unknown weight_formula is a ValueError naming the value."""
        with pytest.raises(ValueError, match='"cubic"'):
            read(fixture("v2"), weight_formula="cubic")
        with pytest.raises(ValueError, match='"cubic"'):
            weight_to_millicores(59, "cubic")
        with pytest.raises(ValueError, match='"cubic"'):
            shares_to_weight(1024, "cubic")


class TestConversions:
    """The kubelet's and the runtimes' CPU conversions and their inverses."""

    @pytest.mark.parametrize(
        ("millicores", "shares"),
        [
            (0, 2),
            (1, 2),
            (2, 2),
            (3, 3),
            (100, 102),
            (250, 256),
            (1000, 1024),
            (256000, 262144),
            (10**6, 262144),
        ],
    )
    def test_millicores_to_shares(self, millicores: int, shares: int) -> None:
        """MilliCPUToShares: floor(m*1024/1000) within [2, 262144], 0 → 2."""
        assert millicores_to_shares(millicores) == shares

    @pytest.mark.parametrize(
        ("shares", "weight"),
        [
            (0, 0),
            (1, 1),
            (2, 1),
            (3, 2),
            (1024, 100),
            (2000, 170),
            (262143, 10000),
            (262144, 10000),
            (262145, 10000),
        ],
    )
    def test_quadratic_weight(self, shares: int, weight: int) -> None:
        """runc >= 1.3.2's table: 2 → 1, 3 → 2, 1024 → 100, 2000 → 170, max → 10000."""
        assert shares_to_weight(shares) == weight

    @pytest.mark.parametrize(
        ("shares", "weight"),
        [(0, 0), (2, 1), (102, 4), (1024, 39), (2048, 79), (262144, 10000)],
    )
    def test_linear_weight(self, shares: int, weight: int) -> None:
        """runc < 1.3.2: 1 + (shares-2)*9999/262142, so 1024 shares became weight 39."""
        assert shares_to_weight(shares, "linear") == weight

    @pytest.mark.parametrize(
        ("shares", "millicores"),
        [(2, 0), (3, 3), (102, 100), (256, 250), (1024, 1000), (262144, 256000)],
    )
    def test_shares_to_millicores(self, shares: int, millicores: int) -> None:
        """ceil(shares*1000/1024), the kubelet's sharesToMilliCPU, with the floor 2 as 0."""
        assert shares_to_millicores(shares) == millicores

    @pytest.mark.parametrize("formula", ["quadratic", "linear"])
    @pytest.mark.parametrize(
        "millicores", [50, 100, 200, 250, 500, 750, 1000, 1500, 2000, 4000, 8000, 64000]
    )
    def test_round_requests_come_back(self, formula: str, millicores: int) -> None:
        """Usual requests survive requests → shares → weight → estimate exactly."""
        weight = shares_to_weight(millicores_to_shares(millicores), formula)
        assert weight_to_millicores(weight, formula) == millicores

    def test_tiny_linear_requests_are_indistinguishable(self) -> None:
        """Under the linear formula 0m to 27m all give weight 1, which reads as 0m."""
        assert shares_to_weight(millicores_to_shares(25), "linear") == 1
        assert weight_to_millicores(1, "linear") == 0

    @given(st.integers(min_value=3, max_value=256000))
    def test_shares_inverse_is_exact(self, millicores: int) -> None:
        """shares_to_millicores undoes millicores_to_shares for every request from 3m."""
        assert shares_to_millicores(millicores_to_shares(millicores)) == millicores

    @given(st.integers(min_value=0, max_value=256000), st.sampled_from(["quadratic", "linear"]))
    def test_weight_estimate_gives_same_weight(self, millicores: int, formula: str) -> None:
        """The estimate is always a request the runtime would turn into the same weight."""
        weight = shares_to_weight(millicores_to_shares(millicores), formula)
        estimate = weight_to_millicores(weight, formula)
        assert shares_to_weight(millicores_to_shares(estimate), formula) == weight

    @given(st.integers(min_value=-5, max_value=20000))
    def test_weight_estimate_total(self, weight: int) -> None:
        """Any weight, even out of range, gives a request between 0 and 256000m."""
        assert 0 <= weight_to_millicores(weight) <= 256000


class TestThisHost:
    """The real machine: never raises, values are well typed."""

    def test_read_limits_on_this_host(self) -> None:
        """read_limits() with defaults returns a CgroupLimits of the right types."""
        limits = read_limits()
        assert isinstance(limits, CgroupLimits)
        assert limits.version in (None, 1, 2)
        for name in (
            "cpu_quota_us",
            "cpu_period_us",
            "cpu_limit_millicores",
            "memory_limit_bytes",
            "cpu_shares",
            "cpu_weight",
            "cpu_request_millicores",
        ):
            value = getattr(limits, name)
            assert value is None or (isinstance(value, int) and value >= 0), name
        for name in ("cpu_source", "memory_source", "pod_uid", "container_id"):
            assert getattr(limits, name) is None or isinstance(getattr(limits, name), str)
        assert isinstance(limits.warnings, tuple)
        if limits.cpu_limit_millicores is not None:
            assert limits.cpu_source is not None
        if limits.memory_limit_bytes is not None:
            assert limits.memory_source is not None

    def test_affinity_count(self) -> None:
        """cpu_affinity_count() is the size of the affinity mask where the OS has one."""
        count = cpu_affinity_count()
        if hasattr(os, "sched_getaffinity"):
            assert count == len(os.sched_getaffinity(0))
        else:
            assert count is None

    def test_affinity_count_without_support(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without sched_getaffinity (macOS) the count is None."""
        monkeypatch.delattr(os, "sched_getaffinity", raising=False)
        assert cpu_affinity_count() is None


class TestCgroupLimitsRecord:
    """The value object."""

    def test_immutable_and_comparable(self) -> None:
        """CgroupLimits cannot be changed and compares by value."""
        limits = read(fixture("v1"))
        with pytest.raises(AttributeError, match="immutable"):
            limits.cpu_limit_millicores = 1
        assert limits == read(fixture("v1"))
        assert hash(limits) == hash(read(fixture("v1")))
        assert "cpu_limit_millicores=500" in repr(limits)

    def test_defaults_are_unknown(self) -> None:
        """A bare CgroupLimits knows nothing: every value None, no warnings."""
        limits = CgroupLimits()
        assert limits.version is None
        assert limits.memory_limit_bytes is None
        assert limits.warnings == ()
