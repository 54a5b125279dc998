"""Tests for podself.pod: sources, provenance, fallbacks, cross-checks and bad input."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import podself
from podself.errors import FormatError, SourceError
from podself.pod import PodInfo, Source, read
from podself.testing import FakePod

MiB = 1 << 20


def bare(tmp_path: Path, environ: dict[str, str], **kwargs: Any) -> PodInfo:
    """read() with only ``environ``: no volume, no cgroups, no service account."""
    args: dict[str, Any] = {
        "environ": environ,
        "podinfo_dirs": [tmp_path / "none"],
        "proc_root": tmp_path / "no-proc",
        "cgroup_root": tmp_path,
        "serviceaccount_dir": tmp_path / "no-sa",
        "hosts_file": tmp_path / "no-hosts",
    }
    args.update(kwargs)
    return read(**args)


class TestEnvNames:
    def test_seed_names(self, tmp_path: Path) -> None:
        """The names used in the seed's exercises are recognised with their units."""
        info = bare(
            tmp_path,
            {
                "POD_NAME": "env-downward-demo",
                "POD_NAMESPACE": "default",
                "POD_IP": "10.244.0.7",
                "NODE_NAME": "minikube",
                "MEMORY_LIMIT_MB": "256",
                "CPU_LIMIT_MILLICORES": "200",
                "APP_VERSION": "1.0",
            },
        )
        assert info.name == "env-downward-demo"
        assert info.namespace == "default"
        assert info.pod_ip == "10.244.0.7"
        assert info.pod_ips == ("10.244.0.7",)
        assert info.node_name == "minikube"
        assert info.resources.memory_limit == 256 * MiB
        assert info.resources.cpu_limit == 200
        assert info.app == {"version": "1.0"}
        assert info.source_of("name") == Source("env", "POD_NAME")
        assert info.source_of("resources.memory_limit") == Source(
            "env", "MEMORY_LIMIT_MB (1Mi units)"
        )
        assert info.warnings == ()

    def test_recommended_convention(self, tmp_path: Path) -> None:
        """K8S_* and RESOURCE_* names are recognised, GB meaning GiB."""
        info = bare(
            tmp_path,
            {
                "K8S_POD_NAME": "api-0",
                "K8S_NAMESPACE": "prod",
                "K8S_POD_UID": "abc-123",
                "K8S_SERVICE_ACCOUNT": "api",
                "RESOURCE_MEMORY_LIMIT_GB": "2",
                "RESOURCE_CPU_REQUEST_MILLICORES": "250",
                "RESOURCE_EPHEMERAL_STORAGE_LIMIT_MB": "1024",
            },
        )
        assert (info.name, info.namespace, info.uid, info.service_account) == (
            "api-0",
            "prod",
            "abc-123",
            "api",
        )
        assert info.resources.memory_limit == 2 << 30
        assert info.resources.cpu_request == 250
        assert info.resources.ephemeral_storage_limit == 1 << 30

    def test_kubernetes_docs_names_use_default_divisor(self, tmp_path: Path) -> None:
        """MY_CPU_LIMIT has no divisor in the docs, so it is in cores; MY_MEM_LIMIT in bytes."""
        info = bare(
            tmp_path,
            {"MY_POD_NAME": "p", "MY_CPU_LIMIT": "2", "MY_MEM_LIMIT": "67108864"},
        )
        assert info.name == "p"
        assert info.resources.cpu_limit == 2000
        assert info.resources.memory_limit == 64 * MiB
        assert info.source_of("resources.cpu_limit") == Source("env", "MY_CPU_LIMIT (1 unit)")

    @pytest.mark.parametrize(
        ("env", "cpu_limit", "memory_request"),
        [
            # As the kubelet writes a resourceFieldRef without a divisor: cores rounded up, bytes.
            ({"CPU_LIMIT": "1", "MEMORY_REQUEST": "268435456"}, 1000, 256 * MiB),
            ({"APP_CPU_LIMIT": "3", "APP_MEMORY_REQUEST": "1048576"}, 3000, MiB),
            ({"WEB_CPU_LIMIT_MILLICORES": "250", "WEB_MEM_REQUEST_MB": "64"}, 250, 64 * MiB),
        ],
    )
    def test_unitless_names_use_default_divisor(
        self, tmp_path: Path, env: dict[str, str], cpu_limit: int, memory_request: int
    ) -> None:
        """CPU_LIMIT, MEMORY_REQUEST and prefixed forms are read, never silently dropped."""
        info = bare(tmp_path, env)
        assert (info.resources.cpu_limit, info.resources.memory_request) == (
            cpu_limit,
            memory_request,
        )
        assert not info.warnings

    def test_convention_names_outrank_prefixed_ones(self, tmp_path: Path) -> None:
        """A prefixed name is the last resort: the known names win and a disagreement warns."""
        info = bare(tmp_path, {"APP_CPU_LIMIT": "4", "RESOURCE_CPU_LIMIT_MILLICORES": "500"})
        assert info.resources.cpu_limit == 500
        assert any("APP_CPU_LIMIT='4' disagrees" in w for w in info.warnings)

    def test_env_map_still_sets_the_divisor(self, tmp_path: Path) -> None:
        """CPU_LIMIT written with divisor 1m is read right when mapped."""
        assert bare(tmp_path, {"CPU_LIMIT": "1000"}).resources.cpu_limit == 1_000_000
        mapped = bare(
            tmp_path, {"CPU_LIMIT": "1000"}, env_map={"CPU_LIMIT": "resources.cpu_limit@1m"}
        )
        assert mapped.resources.cpu_limit == 1000
        assert mapped.source_of("resources.cpu_limit") == Source("env", "CPU_LIMIT (1m units)")

    @pytest.mark.parametrize("name", ["CPU_LIMITS", "LIMITS_MEMORY", "APP_MEMORY_LIMIT_MEGS"])
    def test_unreadable_limit_name_warns(self, tmp_path: Path, name: str) -> None:
        """A name that reads like a limit but has no known unit is reported, not dropped."""
        info = bare(tmp_path, {name: "512"})
        assert info.resources.cpu_limit is None
        assert info.resources.memory_limit is None
        assert any(f"env {name} looks like a CPU or memory limit" in w for w in info.warnings)
        assert any("--env-map" in w for w in info.warnings)

    def test_unreadable_limit_name_unset_or_own_knob_is_quiet(self, tmp_path: Path) -> None:
        """Empty values and PODSELF_* knobs are not limits to warn about."""
        info = bare(tmp_path, {"CPU_LIMITS": "", "PODSELF_MEMORY_LIMIT_POLICY": "x"})
        assert not info.warnings

    def test_unitless_name_disagreeing_with_cgroup_names_the_divisor(self, tmp_path: Path) -> None:
        """CPU_LIMIT=500 from divisor 1m is 500 cores by the default divisor: the cgroup wins and
        the warning names the divisor that would make it agree."""
        pod = FakePod(tmp_path, limits={"cpu": "500m", "memory": "512Mi"}, cgroup="v2")
        env = {**pod.environ, "CPU_LIMIT": "500", "MEMORY_LIMIT": "512"}
        env = {k: v for k, v in env.items() if not k.startswith("RESOURCE_")}
        info = pod.read(environ=env, podinfo_dirs=[])
        assert (info.resources.cpu_limit, info.resources.memory_limit) == (500, 512 * MiB)
        text = "\n".join(info.warnings)
        assert "--env-map CPU_LIMIT=resources.cpu_limit@1m" in text
        assert "--env-map MEMORY_LIMIT=resources.memory_limit@1Mi" in text

    def test_env_map_wins_over_builtin_names(self, tmp_path: Path) -> None:
        """A user's mapping is preferred to the built-in names for the same attribute."""
        info = bare(
            tmp_path,
            {"POD_NAME": "builtin", "MY_APP_POD": "mine"},
            env_map={"MY_APP_POD": "name"},
        )
        assert info.name == "mine"
        assert any("disagrees" in w for w in info.warnings)

    @pytest.mark.parametrize(
        "target",
        ["resources.cpu_limit@1Mi", "resources.nope", "name@1m", "memory_limit@2Gi"],
    )
    def test_env_map_bad_target_is_rejected(self, tmp_path: Path, target: str) -> None:
        """A mapping target podself cannot interpret is a programming error, raised at once."""
        with pytest.raises(ValueError, match="env_map target"):
            bare(tmp_path, {"X": "1"}, env_map={"X": target})

    def test_priority_and_disagreement(self, tmp_path: Path) -> None:
        """The recommended name wins and a disagreeing alias is reported."""
        info = bare(tmp_path, {"K8S_POD_NAME": "a", "POD_NAME": "b", "MY_POD_NAME": "a"})
        assert info.name == "a"
        assert info.warnings == (
            "env POD_NAME='b' disagrees with K8S_POD_NAME='a'; using K8S_POD_NAME",
        )

    def test_opentelemetry_attributes(self, tmp_path: Path) -> None:
        """OTEL_RESOURCE_ATTRIBUTES k8s.* keys give identity and workload, percent-decoded."""
        info = bare(
            tmp_path,
            {
                "OTEL_RESOURCE_ATTRIBUTES": "k8s.pod.name=web-7d4b9c6f5-x2k4p,"
                "k8s.namespace.name=shop%2Dprod,k8s.container.name=app,"
                "k8s.deployment.name=web,service.name=web",
                "OTEL_RESOURCE_ATTRIBUTES_NODE_NAME": "node-3",
            },
        )
        assert info.name == "web-7d4b9c6f5-x2k4p"
        assert info.namespace == "shop-prod"
        assert info.container == "app"
        assert info.node_name == "node-3"
        assert (info.workload.kind, info.workload.name) == ("Deployment", "web")

    def test_opentelemetry_operator_variables(self, tmp_path: Path) -> None:
        """The variables the OpenTelemetry Operator injects give IPs and namespace."""
        info = bare(
            tmp_path,
            {
                "OTEL_POD_IP": "10.1.2.3",
                "OTEL_NODE_IP": "10.0.0.9",
                "OTEL_RESOURCE_ATTRIBUTES_POD_NAMESPACE": "shop",
            },
        )
        assert (info.pod_ip, info.host_ip, info.namespace) == ("10.1.2.3", "10.0.0.9", "shop")
        assert info.source_of("pod_ip") == Source("env", "OTEL_POD_IP")

    def test_unexpanded_reference_is_ignored(self, tmp_path: Path) -> None:
        """A $(VAR) the kubelet could not expand is not taken as a value."""
        info = bare(
            tmp_path,
            {"OTEL_RESOURCE_ATTRIBUTES": "k8s.pod.name=$(OTEL_RESOURCE_ATTRIBUTES_POD_NAME)"},
        )
        assert info.name is None
        assert "unexpanded" in info.warnings[0]

    def test_opentelemetry_values_are_checked(self, tmp_path: Path) -> None:
        """OTEL_RESOURCE_ATTRIBUTES values meet the same checks as the other env names."""
        info = bare(
            tmp_path,
            {"OTEL_RESOURCE_ATTRIBUTES": "k8s.pod.ip=not-an-ip,k8s.pod.name=two words"},
        )
        assert (info.pod_ip, info.name) == (None, None)
        assert any("k8s.pod.ip='not-an-ip' is not an IP address" in w for w in info.warnings)
        assert any("k8s.pod.name='two words' contains whitespace" in w for w in info.warnings)
        with pytest.raises(SourceError, match=r"k8s\.pod\.ip"):
            bare(tmp_path, {"OTEL_RESOURCE_ATTRIBUTES": "k8s.pod.ip=not-an-ip"}, strict=True)
        good = bare(tmp_path, {"OTEL_RESOURCE_ATTRIBUTES": "k8s.pod.ip=fd00::1"})
        assert good.pod_ip == "fd00::1"


BAD_ENV = [
    # (var, value, expected attribute value, warning fragment)
    ("RESOURCE_MEMORY_LIMIT_MB", "abc", None, "not an integer or a Kubernetes quantity"),
    ("RESOURCE_MEMORY_LIMIT_MB", "-1", None, "is negative"),
    ("RESOURCE_MEMORY_LIMIT_MB", "", None, "set but empty"),
    ("RESOURCE_MEMORY_LIMIT_MB", "9" * 30, None, "larger than any Kubernetes quantity"),
    ("RESOURCE_MEMORY_LIMIT_MB", "9" * 5000, None, "larger than any Kubernetes quantity"),
    ("RESOURCE_CPU_LIMIT_MILLICORES", "500m", 500, "carries its own unit"),
    ("RESOURCE_MEMORY_LIMIT_MB", "512Mi", 512 * MiB, "carries its own unit"),
    ("RESOURCE_MEMORY_LIMIT_MB", "12Q", None, "not an integer or a Kubernetes quantity"),
    ("RESOURCE_MEMORY_LIMIT_MB", "-5Mi", None, "is negative"),
    ("K8S_POD_NAME", "", None, "metadata.pod.name"),
    ("K8S_POD_NAME", "two words", None, "whitespace"),
    ("K8S_POD_IP", "10.0.0.300", None, "not an IP address"),
    ("K8S_POD_IP", "fe80::1::2", None, "not an IP address"),
    ("K8S_POD_IPS", "10.0.0.1,nope", None, "not an IP address"),
]


class TestBadEnv:
    @pytest.mark.parametrize(("var", "value", "expected", "fragment"), BAD_ENV)
    def test_fallback_and_warning(
        self, tmp_path: Path, var: str, value: str, expected: object, fragment: str
    ) -> None:
        """A malformed env value falls back (or is read leniently) and says why."""
        info = bare(tmp_path, {var: value})
        attr = {
            "RESOURCE_MEMORY_LIMIT_MB": "resources.memory_limit",
            "RESOURCE_CPU_LIMIT_MILLICORES": "resources.cpu_limit",
            "K8S_POD_NAME": "name",
            "K8S_POD_IP": "pod_ip",
            "K8S_POD_IPS": "pod_ips",
        }[var]
        obj: Any = info
        for part in attr.split("."):
            obj = getattr(obj, part)
        assert obj == (expected if expected is not None or attr != "pod_ips" else ())
        assert any(fragment in w and var in w for w in info.warnings), info.warnings

    @pytest.mark.parametrize(("var", "value", "expected", "fragment"), BAD_ENV)
    def test_strict_raises(
        self, tmp_path: Path, var: str, value: str, expected: object, fragment: str
    ) -> None:
        """strict=True turns the same problem into SourceError naming the variable."""
        with pytest.raises(SourceError, match=var) as caught:
            bare(tmp_path, {var: value}, strict=True)
        assert "ignored" not in str(caught.value)

    @pytest.mark.parametrize(
        ("var", "value", "attr", "expected"),
        [
            ("RESOURCE_MEMORY_LIMIT_MB", "1.5", "memory_limit", 3 * MiB // 2),
            ("RESOURCE_MEMORY_LIMIT_MB", "1e3", "memory_limit", 1000 * MiB),
            ("RESOURCE_MEMORY_LIMIT_MB", "0.0000001", "memory_limit", 1),  # rounded up
            ("MY_MEM_LIMIT", "2.5e2", "memory_limit", 250),
            ("RESOURCE_CPU_LIMIT_MILLICORES", "1.5", "cpu_limit", 2),
            ("RESOURCE_CPU_LIMIT_CORES", "0.25", "cpu_limit", 250),
            ("RESOURCE_CPU_LIMIT_CORES", "2E0", "cpu_limit", 2000),
        ],
    )
    def test_bare_number_takes_the_unit_of_the_name(
        self, tmp_path: Path, var: str, value: str, attr: str, expected: int
    ) -> None:
        """A fraction or exponent without a unit suffix is in the unit the name implies."""
        info = bare(tmp_path, {var: value})
        assert getattr(info.resources, attr) == expected
        assert info.warnings == ()

    def test_huge_exponent_gets_one_warning(self, tmp_path: Path) -> None:
        """1e309 is reported once, as too large, not also as carrying a unit."""
        info = bare(tmp_path, {"RESOURCE_MEMORY_LIMIT_MB": "1e309"})
        assert info.resources.memory_limit is None
        assert info.warnings == (
            "env RESOURCE_MEMORY_LIMIT_MB='1e309' is larger than any Kubernetes quantity "
            "(int64); ignored",
        )

    def test_leading_zeros_beyond_int_digit_limit(self, tmp_path: Path) -> None:
        """Thousands of leading zeros still read as the small number they are."""
        info = bare(tmp_path, {"RESOURCE_MEMORY_LIMIT_MB": "0" * 5000 + "64"})
        assert info.resources.memory_limit == 64 * MiB
        assert info.warnings == ()

    def test_falls_back_to_next_name(self, tmp_path: Path) -> None:
        """A malformed preferred name does not hide a good alias."""
        info = bare(tmp_path, {"RESOURCE_MEMORY_LIMIT_MB": "abc", "MEMORY_LIMIT_MB": "128"})
        assert info.resources.memory_limit == 128 * MiB
        assert info.source_of("resources.memory_limit").origin.startswith("MEMORY_LIMIT_MB")

    @settings(max_examples=200, deadline=None)
    @given(st.dictionaries(st.sampled_from(sorted(podself.names.env_table())), st.text()))
    def test_never_raises(self, env: dict[str, str]) -> None:
        """Any values under any recognised names never make read() raise."""
        info = read(
            environ=env,
            podinfo_dirs=[],
            proc_root="/nonexistent",
            serviceaccount_dir="/nonexistent",
            hosts_file="/nonexistent",
        )
        assert isinstance(info, PodInfo)


class TestPodinfoVolume:
    def test_fake_pod_roundtrip(self, tmp_path: Path) -> None:
        """Every value written by a fake kubelet is read back with its source."""
        pod = FakePod(
            tmp_path,
            name="volume-downward-demo",
            labels={"app": "myapp", "version": "2.0", "environment": "production"},
            annotations={"team": "platform-team", "build-id": "build-456"},
            limits={"cpu": "1", "memory": "1Gi"},
            requests={"cpu": "250m", "memory": "256Mi"},
            env=None,
        )
        info = pod.read()
        assert info.name == "volume-downward-demo"
        assert info.labels == {"app": "myapp", "version": "2.0", "environment": "production"}
        assert info.annotations == {"team": "platform-team", "build-id": "build-456"}
        assert info.uid == pod.uid
        assert info.resources.cpu_limit == 1000
        assert info.resources.memory_limit == 1 << 30
        assert info.source_of("labels") == Source("downward", f"{pod.podinfo_dir}/labels")
        assert info.source_of("name").kind == "downward"
        assert info.source_of("resources.cpu_limit").kind == "downward"
        assert info.warnings == ()

    def test_env_wins_for_identity(self, tmp_path: Path) -> None:
        """Env is read first; an agreeing volume file adds nothing and warns nothing."""
        pod = FakePod(tmp_path)
        info = pod.read()
        assert info.source_of("name") == Source("env", "K8S_POD_NAME")
        assert info.warnings == ()

    def test_volume_disagreeing_with_env_identity_is_reported(self, tmp_path: Path) -> None:
        """Different names in env and volume mean a misconfiguration; env is kept."""
        pod = FakePod(tmp_path)
        info = pod.read(environ={**pod.environ, "K8S_POD_NAME": "other"})
        assert info.name == "other"
        assert any("disagrees" in w for w in info.warnings)

    def test_resized_volume_beats_stale_env(self, tmp_path: Path) -> None:
        """After an in-place resize the refreshed volume value wins over env, with a note."""
        pod = FakePod(tmp_path, limits={"cpu": "500m", "memory": "512Mi"}, cgroup=None)
        env = dict(pod.environ)
        pod.limits = {"cpu": "1", "memory": "512Mi"}
        pod.write_volume()
        info = pod.read(environ=env)
        assert info.resources.cpu_limit == 1000
        assert info.source_of("resources.cpu_limit").kind == "downward"
        assert any("in-place" in w for w in info.warnings)

    def test_several_dirs_first_wins(self, tmp_path: Path) -> None:
        """With several podinfo dirs, the first that has a value wins."""
        first = FakePod(tmp_path / "a", labels={"from": "a"}, env=None)
        second = FakePod(tmp_path / "b", labels={"from": "b"}, name="b-pod", env=None)
        info = first.read(podinfo_dirs=[first.podinfo_dir, second.podinfo_dir])
        assert info.labels == {"from": "a"}

    def test_plain_directory_without_data_link(self, tmp_path: Path) -> None:
        """A hand-made directory (no ..data) is read too; a trailing newline is tolerated."""
        directory = tmp_path / "podinfo"
        directory.mkdir()
        (directory / "labels").write_text('app="x"\n', encoding="utf-8")
        (directory / "pod-name").write_text("p-1\n", encoding="utf-8")
        (directory / "memory-limit-mb").write_text("64", encoding="utf-8")
        info = bare(tmp_path, {}, podinfo_dirs=[directory])
        assert info.labels == {"app": "x"}
        assert info.name == "p-1"
        assert info.resources.memory_limit == 64 * MiB

    @pytest.mark.parametrize(
        ("file_name", "content", "fragment"),
        [
            ("labels", "app=myapp", "labels"),
            ("labels", 'app="unterminated', "labels"),
            ("annotations", 'a="\\q"', "annotations"),
            ("cpu_limit", "lots", "cpu_limit"),
            ("mem_limit", "-3", "mem_limit"),
            ("name", "", "name"),
        ],
    )
    def test_malformed_files(
        self, tmp_path: Path, file_name: str, content: str, fragment: str
    ) -> None:
        """A malformed file is ignored with a warning naming it; other files still count."""
        directory = tmp_path / "podinfo"
        directory.mkdir()
        (directory / file_name).write_text(content, encoding="utf-8")
        (directory / "namespace").write_text("ok-ns", encoding="utf-8")
        info = bare(tmp_path, {}, podinfo_dirs=[directory])
        assert info.namespace == "ok-ns"
        assert any(fragment in w for w in info.warnings), info.warnings

    def test_malformed_labels_strict(self, tmp_path: Path) -> None:
        """strict=True raises FormatError for a labels file FormatMap could not have written."""
        directory = tmp_path / "podinfo"
        directory.mkdir()
        (directory / "labels").write_text("app=myapp", encoding="utf-8")
        with pytest.raises(FormatError, match="labels"):
            bare(tmp_path, {}, podinfo_dirs=[directory], strict=True)

    def test_non_utf8_file(self, tmp_path: Path) -> None:
        """Bytes that are not UTF-8 are reported, not decoded into garbage."""
        directory = tmp_path / "podinfo"
        directory.mkdir()
        (directory / "labels").write_bytes(b'app="\xff"')
        info = bare(tmp_path, {}, podinfo_dirs=[directory])
        assert dict(info.labels) == {}
        assert any("not UTF-8" in w for w in info.warnings)

    def test_unreadable_entry(self, tmp_path: Path) -> None:
        """An entry that cannot be read (here a directory named like a file) is reported."""
        directory = tmp_path / "podinfo"
        (directory / "labels").mkdir(parents=True)
        (directory / "namespace").write_text("ns", encoding="utf-8")
        info = bare(tmp_path, {}, podinfo_dirs=[directory])
        assert info.namespace == "ns"

    @pytest.mark.parametrize(
        ("file_name", "limit"),
        [("name", 255), ("namespace", 65), ("pod-uid", 255), ("mem_limit", 64)],
    )
    def test_file_above_the_api_bound_is_ignored(
        self, tmp_path: Path, file_name: str, limit: int
    ) -> None:
        """No file is read past what the API allows for its value; a larger one is reported."""
        directory = tmp_path / "podinfo"
        directory.mkdir()
        (directory / file_name).write_text("1" * (limit + 1), encoding="utf-8")
        (directory / "labels").write_text('a="b"', encoding="utf-8")
        info = bare(tmp_path, {}, podinfo_dirs=[directory])
        assert info.labels == {"a": "b"}
        assert info.warnings == (
            f'podinfo dir "{directory}/{file_name}": file larger than {limit} bytes; ignored',
        )
        (directory / file_name).write_text("1" * limit, encoding="utf-8")
        warnings = bare(tmp_path, {}, podinfo_dirs=[directory]).warnings
        assert not any("file larger than" in w for w in warnings)

    def test_only_known_names_are_read(self, tmp_path: Path) -> None:
        """Other files, however many or large, are never opened."""
        directory = tmp_path / "podinfo"
        directory.mkdir()
        os.mkfifo(directory / "other")
        (directory / "big").write_bytes(b"x" * (3 << 20))
        (directory / "name").write_text("p", encoding="utf-8")
        info = bare(tmp_path, {}, podinfo_dirs=[directory])
        assert info.name == "p"
        assert info.warnings == ()

    def test_data_link_outside_the_directory(self, tmp_path: Path) -> None:
        """A ..data link that leaves the volume is refused, not followed."""
        outside = tmp_path / "outside"
        outside.mkdir()
        (outside / "name").write_text("stolen", encoding="utf-8")
        directory = tmp_path / "podinfo"
        directory.mkdir()
        os.symlink("../outside", directory / "..data")
        os.symlink("..data/name", directory / "name")
        info = bare(tmp_path, {}, podinfo_dirs=[directory])
        assert info.name is None
        assert info.warnings == (
            f"podinfo dir \"{directory}\": ..data -> '../outside' is not a timestamp "
            "directory inside it; nothing read",
            f"podinfo file {directory}/name: unreadable; ignored",
        )

    def test_special_files_never_hang(self, tmp_path: Path) -> None:
        """FIFOs where a podinfo file, the namespace file or /etc/hosts should be: skipped."""
        directory = tmp_path / "podinfo"
        directory.mkdir()
        os.mkfifo(directory / "name")
        sa = tmp_path / "sa"
        sa.mkdir()
        os.mkfifo(sa / "namespace")
        os.mkfifo(tmp_path / "hosts")
        info = bare(
            tmp_path,
            {"HOSTNAME": "p", "KUBERNETES_SERVICE_HOST": "10.0.0.1"},
            podinfo_dirs=[directory],
            serviceaccount_dir=sa,
            hosts_file=tmp_path / "hosts",
        )
        assert info.namespace is None
        assert info.name == "p"  # from HOSTNAME, the FIFO gave nothing
        assert f"podinfo file {directory}/name: unreadable; ignored" in info.warnings

    def test_deep_plain_directory(
        self, tmp_path: Path, deep_tree: Callable[[Path, int], Path]
    ) -> None:
        """A directory nested far past the recursion limit costs nothing: it is not listed."""
        directory = tmp_path / "podinfo"
        directory.mkdir()
        deep_tree(directory, sys.getrecursionlimit() + 100)
        (directory / "name").write_text("p", encoding="utf-8")
        info = bare(tmp_path, {}, podinfo_dirs=[directory])
        assert info.name == "p"
        assert info.warnings == ()

    def test_unexpected_failure_is_a_warning(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """read() never raises: whatever a source throws becomes a warning."""
        import podself.atomic

        def explode(*_: object, **__: object) -> None:
            raise RecursionError("maximum recursion depth exceeded")

        monkeypatch.setattr(podself.atomic, "read_snapshot", explode)
        directory = tmp_path / "podinfo"
        directory.mkdir()
        (directory / "name").write_text("p", encoding="utf-8")
        info = bare(tmp_path, {"POD_NAMESPACE": "ns"}, podinfo_dirs=[directory])
        assert info.namespace == "ns"
        assert info.warnings == (
            f"podinfo dir {directory}: RecursionError: maximum recursion depth exceeded; ignored",
            "fallbacks: RecursionError: maximum recursion depth exceeded; ignored",
        )

    def test_missing_dir_is_silent(self, tmp_path: Path) -> None:
        """No volume is normal outside a pod: nothing known, nothing to warn about."""
        info = bare(tmp_path, {})
        assert info.labels == {}
        assert info.source_of("labels").kind == "unknown"
        assert info.warnings == ()


def _jwt(claims: Mapping[str, object]) -> str:
    def part(obj: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256'})}.{part(claims)}.c2ln"


class TestFallbacks:
    def test_serviceaccount_namespace_file(self, tmp_path: Path) -> None:
        """The namespace file of the service-account mount fills a missing namespace."""
        sa = tmp_path / "sa"
        sa.mkdir()
        (sa / "namespace").write_text("team-a", encoding="utf-8")
        info = bare(tmp_path, {}, serviceaccount_dir=sa)
        assert info.namespace == "team-a"
        assert info.source_of("namespace") == Source("fallback", f"{sa}/namespace")
        assert info.in_kubernetes

    def test_token_claims(self, tmp_path: Path) -> None:
        """A bound service-account token's claims name the pod, its uid, account and node."""
        sa = tmp_path / "sa"
        sa.mkdir()
        claims = {
            "kubernetes.io": {
                "namespace": "shop",
                "pod": {"name": "web-0", "uid": "1111-2222"},
                "serviceaccount": {"name": "web", "uid": "x"},
                "node": {"name": "node-9", "uid": "y"},
            },
            "sub": "system:serviceaccount:shop:web",
        }
        (sa / "token").write_text(_jwt(claims), encoding="utf-8")
        info = bare(tmp_path, {}, serviceaccount_dir=sa)
        assert (info.name, info.uid, info.namespace, info.service_account) == (
            "web-0",
            "1111-2222",
            "shop",
            "web",
        )
        assert info.node_name == "node-9"
        assert info.source_of("name").origin == f"{sa}/token claims"

    def test_legacy_token_claims(self, tmp_path: Path) -> None:
        """A legacy secret token gives namespace and service account."""
        sa = tmp_path / "sa"
        sa.mkdir()
        token = _jwt(
            {
                "kubernetes.io/serviceaccount/namespace": "old",
                "sub": "system:serviceaccount:old:builder",
            }
        )
        (sa / "token").write_text(token, encoding="utf-8")
        info = bare(tmp_path, {}, serviceaccount_dir=sa)
        assert (info.namespace, info.service_account) == ("old", "builder")

    def test_garbage_token(self, tmp_path: Path) -> None:
        """A token that is not a JWT is reported and ignored."""
        sa = tmp_path / "sa"
        sa.mkdir()
        (sa / "token").write_text("not-a-jwt", encoding="utf-8")
        info = bare(tmp_path, {"HOSTNAME": "from-hostname"}, serviceaccount_dir=sa)
        assert info.name == "from-hostname"
        assert info.source_of("name").origin.startswith("env HOSTNAME")
        assert any("not a readable JWT" in w for w in info.warnings)

    @pytest.mark.parametrize(
        "payload",
        [b"[" * 100_000, b'{"a": ' * 5000, b'{"n": 1' + b"0" * 5000 + b"}", b"\xff\xfe", b"[1,]"],
    )
    def test_hostile_token_payload(self, tmp_path: Path, payload: bytes) -> None:
        """A token whose payload is deeply nested, huge or not JSON is ignored, never raised."""
        sa = tmp_path / "sa"
        sa.mkdir()
        body = base64.urlsafe_b64encode(payload).rstrip(b"=").decode()
        (sa / "token").write_text(f"e30.{body}.sig", encoding="utf-8")
        info = bare(tmp_path, {}, serviceaccount_dir=sa)
        assert info.uid is None
        assert any("not a readable JWT" in w for w in info.warnings)

    @pytest.mark.parametrize(
        "payload",
        [
            b"[" * 100_000 + b"]" * 100_000,  # nested past the recursion limit
            b'{"kubernetes.io": {"namespace": NaN}}',  # not JSON, though json reads it
            b'{"kubernetes.io": ',
            b"\xff\xfe",
        ],
        ids=["deep", "nan", "cut", "not-utf8"],
    )
    def test_hostile_token_claims_are_ignored(self, tmp_path: Path, payload: bytes) -> None:
        """A token whose claims are not a JSON object gives a warning, never an error."""
        sa = tmp_path / "sa"
        sa.mkdir()
        body = base64.urlsafe_b64encode(payload).rstrip(b"=").decode()
        (sa / "token").write_text(f"eyJhbGciOiJSUzI1NiJ9.{body}.c2ln", encoding="utf-8")
        info = read(
            environ={},
            podinfo_dirs=[],
            serviceaccount_dir=str(sa),
            proc_root=str(tmp_path / "no-proc"),
            hosts_file=str(tmp_path / "none"),
        )
        assert info.namespace is None
        assert any("not a readable JWT" in w for w in info.warnings)

    def test_hostname_only_inside_kubernetes(self, tmp_path: Path) -> None:
        """HOSTNAME is the pod name only when there is evidence of Kubernetes."""
        outside = bare(tmp_path, {"HOSTNAME": "laptop"})
        assert outside.name is None
        inside = bare(tmp_path, {"HOSTNAME": "web-0", "KUBERNETES_SERVICE_HOST": "10.96.0.1"})
        assert inside.name == "web-0"
        assert inside.source_of("name").kind == "fallback"

    def test_hosts_file_gives_ip_and_service(self, tmp_path: Path) -> None:
        """The kubelet-managed /etc/hosts names the pod IP and the governing service."""
        hosts = tmp_path / "hosts"
        hosts.write_text(
            "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n"
            "10.244.1.5\tdb-1.db.data.svc.cluster.local\tdb-1\n",
            encoding="utf-8",
        )
        info = bare(
            tmp_path,
            {"HOSTNAME": "db-1", "POD_NAMESPACE": "data", "KUBERNETES_SERVICE_HOST": "x"},
            hosts_file=hosts,
        )
        assert info.pod_ip == "10.244.1.5"
        assert info.workload.service == "db"
        assert info.dns_name() == "db-1.db.data.svc.cluster.local"

    def test_unmanaged_hosts_file_ignored(self, tmp_path: Path) -> None:
        """An ordinary /etc/hosts (no kubelet header) is not taken as pod data."""
        hosts = tmp_path / "hosts"
        hosts.write_text("10.0.0.9\tlaptop\n", encoding="utf-8")
        info = bare(tmp_path, {"HOSTNAME": "laptop"}, hosts_file=hosts)
        assert info.pod_ip is None

    def test_defaults_and_overrides(self, tmp_path: Path) -> None:
        """Defaults fill only the unknown; overrides win over everything; both say so."""
        info = bare(
            tmp_path,
            {"POD_NAME": "from-env"},
            defaults={"namespace": "default", "name": "unused", "memory_limit": 512 * MiB},
            overrides={"node_name": "pinned"},
        )
        assert info.name == "from-env"
        assert info.namespace == "default"
        assert info.source_of("namespace").kind == "default"
        assert info.resources.memory_limit == 512 * MiB
        assert info.node_name == "pinned"
        assert info.source_of("node_name").kind == "argument"

    def test_unknown_default_key(self, tmp_path: Path) -> None:
        """A default for an attribute that does not exist is refused with the known list."""
        with pytest.raises(ValueError, match="unknown attribute 'colour'"):
            bare(tmp_path, {}, defaults={"colour": "blue"})


class TestCgroupCrossChecks:
    def test_limits_from_cgroup_when_no_env(self, tmp_path: Path) -> None:
        """Without env or volume, the cgroup limits are used and their files named."""
        pod = FakePod(tmp_path, env=None, limits={"cpu": "1500m", "memory": "768Mi"})
        info = pod.read(podinfo_dirs=[])
        assert info.resources.cpu_limit == 1500
        assert info.resources.memory_limit == 768 * MiB
        assert info.source_of("resources.memory_limit").kind == "cgroup"
        assert info.uid == pod.uid

    @pytest.mark.parametrize("version", ["v1", "v2"])
    def test_agreement_within_rounding(self, tmp_path: Path, version: str) -> None:
        """100M shown as 96 MiB (divisor rounds up) agrees with the cgroup's exact bytes."""
        pod = FakePod(tmp_path, limits={"cpu": "250m", "memory": "100M"}, cgroup=version)
        info = pod.read()
        assert info.resources.memory_limit == 96 * MiB
        assert info.source_of("resources.memory_limit").kind == "env"
        assert info.warnings == ()

    def test_node_allocatable_trap(self, tmp_path: Path) -> None:
        """An env limit with no limit in the pod's cgroup is node allocatable: unlimited."""
        pod = FakePod(tmp_path, limits={"cpu": "500m"}, cgroup="v2")
        assert pod.environ["RESOURCE_MEMORY_LIMIT_MB"] == str(8 * 1024)
        info = pod.read()
        assert info.resources.memory_limit is None
        assert any("node allocatable" in w for w in info.warnings)
        assert info.resources.cpu_limit == 500

    def test_disagreement_believes_the_kernel(self, tmp_path: Path) -> None:
        """When env and cgroup disagree beyond rounding, the enforced cgroup value wins."""
        pod = FakePod(tmp_path, limits={"cpu": "2", "memory": "1Gi"}, cgroup="v1")
        env = {**pod.environ, "RESOURCE_CPU_LIMIT_MILLICORES": "4000"}
        info = pod.read(environ=env, podinfo_dirs=[])
        assert info.resources.cpu_limit == 2000
        assert info.source_of("resources.cpu_limit").kind == "cgroup"
        assert any("believing the cgroup" in w for w in info.warnings)


class TestPerContainerResources:
    """Each container reads its own values from containers/<name>/, others' as info.containers."""

    MAIN = {"main": {"cpu": "1", "memory": "512Mi"}}  # noqa: RUF012 -- read only

    def test_sidecar_reads_its_own_not_the_main_containers(self, tmp_path: Path) -> None:
        pod = FakePod(
            tmp_path, container="side", limits={}, env=None, layout="containers", others=self.MAIN
        )
        info = pod.read()
        assert info.container == "side"
        # Its own file holds node allocatable (no limit); the pod's cgroup sets none.
        assert info.resources.cpu_limit is None
        assert info.resources.memory_limit is None
        assert info.source_of("resources.cpu_limit").kind == "cgroup"
        assert info.resources.cpu_request == 0
        assert info.source_of("resources.cpu_request").origin == (
            f"{pod.podinfo_dir}/containers/side/cpu_request"
        )
        main = info.containers["main"]
        assert (main.cpu_limit, main.memory_limit, main.cpu_request) == (1000, 512 * MiB, 1000)
        assert info.source_of("containers.main.memory_limit") == Source(
            "downward", f"{pod.podinfo_dir}/containers/main/mem_limit"
        )
        # The volume's view of this container too, before the cgroup check.
        assert info.containers["side"].cpu_limit == 4000
        assert info.to_dict()["containers"]["main"]["cpu_limit"] == 1000  # type: ignore[index]

    def test_main_reads_its_own_directory_and_ignores_root_files(self, tmp_path: Path) -> None:
        pod = FakePod(
            tmp_path,
            container="main",
            limits={"cpu": "1", "memory": "512Mi"},
            env=None,
            layout="containers",
            others={"side": {}},
        )
        # Older output of the same manifest: a root file with another container's value.
        write_volume_files(pod, {"cpu_limit": b"250"})
        info = pod.read()
        assert info.resources.cpu_limit == 1000
        assert info.source_of("resources.cpu_limit").origin.endswith("containers/main/cpu_limit")
        assert info.warnings == ()

    def test_root_file_of_another_container_loses_to_the_cgroup(self, tmp_path: Path) -> None:
        """Older inject output: main's limits at the root, read by a sidecar without limits."""
        pod = FakePod(tmp_path, container="side", limits={}, env=None)
        write_volume_files(pod, {"cpu_limit": b"1000", "mem_limit": b"512"})
        info = pod.read(environ={**pod.environ, "K8S_CONTAINER_NAME": "side"})
        assert info.resources.cpu_limit is None
        assert info.resources.memory_limit is None
        warning = next(w for w in info.warnings if "/cpu_limit says" in w)
        assert f"{pod.podinfo_dir}/cpu_limit says cpu_limit=1000m" in warning
        assert "resourceFieldRef.containerName" in warning
        assert "containers/side/cpu_limit with containerName: side" in warning

    def test_root_file_that_disagrees_with_an_enforced_limit(self, tmp_path: Path) -> None:
        pod = FakePod(tmp_path, limits={"cpu": "500m", "memory": "256Mi"}, env=None)
        write_volume_files(pod, {"cpu_limit": b"2000"})
        info = pod.read()
        assert info.resources.cpu_limit == 500
        warning = next(w for w in info.warnings if "believing the cgroup" in w)
        assert "names no container: if its item's resourceFieldRef.containerName" in warning
        assert "containers/<this container>/cpu_limit" in warning

    def test_root_files_are_still_read_when_nothing_contradicts_them(self, tmp_path: Path) -> None:
        pod = FakePod(tmp_path, limits={"cpu": "500m", "memory": "256Mi"}, env=None)
        info = pod.read()
        assert info.resources.cpu_limit == 500
        assert info.source_of("resources.cpu_limit").origin == f"{pod.podinfo_dir}/cpu_limit"
        assert info.containers == {}
        assert info.warnings == ()

    def test_unknown_own_name_reads_only_other_containers(self, tmp_path: Path) -> None:
        """Without its own name a container cannot tell which directory is its own."""
        pod = FakePod(tmp_path, limits={}, env=None, layout="containers", others=self.MAIN)
        environ = {k: v for k, v in pod.environ.items() if k != "K8S_CONTAINER_NAME"}
        info = pod.read(environ=environ)
        assert info.container is None
        assert info.resources.cpu_limit is None
        assert info.source_of("resources.cpu_limit").kind == "unknown"
        assert set(info.containers) == {"app", "main"}

    def test_volume_value_beats_env_as_after_a_resize(self, tmp_path: Path) -> None:
        pod = FakePod(tmp_path, container="main", layout="containers", others={"side": {}})
        environ = {**pod.environ, "RESOURCE_CPU_LIMIT_MILLICORES": "250"}
        info = pod.read(environ=environ, proc_root=tmp_path / "no-proc")
        assert info.resources.cpu_limit == 500
        assert any("believing the volume" in w for w in info.warnings)

    def test_hostile_directories_are_bounded(self, tmp_path: Path) -> None:
        pod = FakePod(tmp_path, limits={}, env=None)
        files = {f"containers/{n}/cpu_limit": b"1" for n in ("UPPER", "-dash", "a" * 64)}
        files["containers/ok/cpu_limit"] = b"1" * 100
        files["containers/stray"] = b"1"
        write_volume_files(pod, files)
        info = pod.read()
        assert "ok" not in info.containers
        assert any("3 entries are not container names" in w for w in info.warnings)
        assert any("larger than 64 bytes" in w for w in info.warnings)

    def test_many_container_directories(self, tmp_path: Path) -> None:
        pod = FakePod(tmp_path, limits={}, env=None)
        write_volume_files(pod, {f"containers/c{i:03d}/cpu_limit": b"1" for i in range(300)})
        info = pod.read()
        assert len(info.containers) == 256
        assert any("more than 256 container directories" in w for w in info.warnings)

    def test_entries_are_bounded_for_the_whole_volume(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Directories under containers/ count against the volume's one entry budget."""
        pod = FakePod(tmp_path, limits={}, env=None)
        write_volume_files(pod, {f"containers/c{i:02d}/cpu_limit": b"1" for i in range(30)})
        monkeypatch.setattr("podself.atomic.MAX_SNAPSHOT_FILES", 20)
        info = pod.read()
        assert len(info.containers) < 30
        assert [w for w in info.warnings if "entries in the volume" in w] == [
            f"podinfo dir {pod.podinfo_dir}/containers: more than 20 entries in the volume; "
            "the rest ignored"
        ]

    def test_source_of_container_keys(self, tmp_path: Path) -> None:
        info = FakePod(tmp_path, layout="containers").read()
        assert info.source_of("containers.other.cpu_limit").kind == "unknown"
        with pytest.raises(KeyError):
            info.source_of("containers.Bad.cpu_limit")
        with pytest.raises(KeyError):
            info.source_of("containers.app.cpu")


def write_volume_files(pod: FakePod, files: Mapping[str, bytes]) -> None:
    """Re-project ``pod``'s volume with ``files`` added (the kubelet's ..data swap)."""
    from podself.atomic import read_snapshot, write

    current = dict(read_snapshot(pod.podinfo_dir).files)
    assert write(pod.podinfo_dir, {**current, **files})


class TestWorkload:
    @pytest.mark.parametrize(
        ("name", "labels", "env", "expected"),
        [
            (
                "web-0",
                {
                    "statefulset.kubernetes.io/pod-name": "web-0",
                    "apps.kubernetes.io/pod-index": "0",
                    "controller-revision-hash": "web-6b8f7",
                },
                {},
                ("StatefulSet", "web", 0, None),
            ),
            (
                "api-7d4b9c6f5-x2k4p",
                {"app": "api", "pod-template-hash": "7d4b9c6f5"},
                {},
                ("Deployment", "api", None, None),
            ),
            (
                "agent-8kz2q",
                {"controller-revision-hash": "5d9f", "pod-template-generation": "3"},
                {},
                ("DaemonSet", "agent", None, None),
            ),
            (
                "train-3-abcde",
                {
                    "batch.kubernetes.io/job-name": "train",
                    "batch.kubernetes.io/job-completion-index": "3",
                },
                {},
                ("Job", "train", None, 3),
            ),
            ("solo", {"app": "solo"}, {}, ("Pod", "solo", None, None)),
        ],
    )
    def test_from_labels(
        self,
        tmp_path: Path,
        name: str,
        labels: dict[str, str],
        env: dict[str, str],
        expected: tuple[object, ...],
    ) -> None:
        """Controller labels identify the owning workload and the pod's ordinal or index."""
        pod = FakePod(tmp_path, name=name, labels=labels, extra_env=env)
        workload = pod.read().workload
        assert (workload.kind, workload.name, workload.ordinal, workload.index) == expected

    def test_deployment_from_name_pattern(self, tmp_path: Path) -> None:
        """Without labels, a <deploy>-<hash>-<5> name still reveals the Deployment."""
        info = bare(tmp_path, {"POD_NAME": "api-server-5d8c7f6b9-xk2jp"})
        assert (info.workload.kind, info.workload.name) == ("Deployment", "api-server")
        assert "name pattern" in info.source_of("workload").origin

    def test_unknown_without_evidence(self, tmp_path: Path) -> None:
        """An ordinary name and no labels means the workload is unknown, not guessed."""
        info = bare(tmp_path, {"POD_NAME": "my-app"})
        assert info.workload.kind is None

    def test_job_completion_index_env(self, tmp_path: Path) -> None:
        """JOB_COMPLETION_INDEX alone marks an Indexed Job member."""
        info = bare(tmp_path, {"JOB_COMPLETION_INDEX": "7", "POD_NAME": "etl-7-q2w4e"})
        assert (info.workload.kind, info.workload.index) == ("Job", 7)

    @pytest.mark.parametrize("index", ["\u00b2", "\u0663", "9" * 5000, "-1", " 3"])
    def test_odd_completion_index_is_unknown(self, tmp_path: Path, index: str) -> None:
        """A completion index that is not a plain ASCII number is unknown, never an error."""
        info = bare(tmp_path, {"JOB_COMPLETION_INDEX": index})
        assert (info.workload.kind, info.workload.index) == ("Job", None)

    def test_odd_statefulset_ordinal_is_unknown(self, tmp_path: Path) -> None:
        """A pod-index label with a non-ASCII digit gives no ordinal instead of raising."""
        labels = {
            "statefulset.kubernetes.io/pod-name": "db-0",
            "apps.kubernetes.io/pod-index": "\u00b2",
        }
        info = FakePod(tmp_path, name="db-0", labels=labels).read()
        assert (info.workload.kind, info.workload.name, info.workload.ordinal) == (
            "StatefulSet",
            "db",
            None,
        )

    def test_peer_dns_names(self, tmp_path: Path) -> None:
        """A StatefulSet member lists its peers' stable DNS names given the service."""
        pod = FakePod(
            tmp_path,
            name="db-1",
            namespace="data",
            labels={"statefulset.kubernetes.io/pod-name": "db-1"},
        )
        info = pod.read()
        assert info.dns_name("db") == "db-1.db.data.svc.cluster.local"
        assert info.peer_dns_names(3, "db") == [
            "db-0.db.data.svc.cluster.local",
            "db-1.db.data.svc.cluster.local",
            "db-2.db.data.svc.cluster.local",
        ]
        assert info.workload.ordinal == 1


class TestPodInfo:
    def test_immutable(self, tmp_path: Path) -> None:
        """PodInfo and its mappings cannot be changed."""
        info = FakePod(tmp_path).read()
        with pytest.raises(AttributeError):
            info.name = "x"
        with pytest.raises(TypeError):
            info.labels["x"] = "y"  # type: ignore[index]

    def test_source_of_unknown_attribute(self, tmp_path: Path) -> None:
        """Asking for the source of a non-attribute names the valid ones."""
        info = bare(tmp_path, {})
        with pytest.raises(KeyError, match=r"resources\.cpu_limit"):
            info.source_of("cpu")

    def test_to_dict_is_json(self, tmp_path: Path) -> None:
        """to_dict() is JSON-serialisable and uses the attribute names."""
        data = FakePod(tmp_path).read().to_dict()
        text = json.dumps(data)
        assert json.loads(text)["resources"]["cpu_limit"] == 500
        assert data["sources"]["name"] == {"kind": "env", "origin": "K8S_POD_NAME"}  # type: ignore[index]

    def test_refreshed_reads_again(self, tmp_path: Path) -> None:
        """refreshed() re-reads with the same arguments and sees new labels."""
        pod = FakePod(tmp_path, labels={"stage": "alpha"})
        info = pod.read()
        pod.set_labels({"stage": "beta", "feature": "new-api"})
        assert info.refreshed().labels == {"stage": "beta", "feature": "new-api"}
        assert info.labels == {"stage": "alpha"}


class TestCurrent:
    def test_cached_and_refreshed(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """current() caches; refresh() re-reads the real environment."""
        monkeypatch.setenv("K8S_POD_NAME", "first")
        monkeypatch.setattr(podself, "_current", None)
        assert podself.current().name == "first"
        monkeypatch.setenv("K8S_POD_NAME", "second")
        assert podself.current().name == "first"
        assert podself.refresh().name == "second"
        assert podself.current() is podself.current()

    def test_cpu_count(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """cpu_count() rounds the CPU limit up and never returns less than 1."""
        monkeypatch.setattr(podself, "_current", None)
        monkeypatch.setenv("RESOURCE_CPU_LIMIT_MILLICORES", "1500")
        assert podself.cpu_count() == 2
        monkeypatch.setenv("RESOURCE_CPU_LIMIT_MILLICORES", "100")
        podself.refresh()
        assert podself.cpu_count() == 1

    def test_cpu_count_cached_until_refresh_or_resize(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The policy is read once: later PODSELF_* changes count after refresh() or a resize."""
        from podself.tuning import PlanWatcher

        # An empty fake root and /proc: no cgroup or host CPUs to cap the env values.
        monkeypatch.setenv("PODSELF_ROOT", str(tmp_path))
        monkeypatch.setenv("PODSELF_PROC_ROOT", str(tmp_path))
        monkeypatch.delenv("PODSELF_RESERVE_MILLICORES", raising=False)
        monkeypatch.setattr(podself, "_current", None)
        monkeypatch.setenv("RESOURCE_CPU_LIMIT_MILLICORES", "3000")
        assert podself.cpu_count() == 3
        monkeypatch.setenv("RESOURCE_CPU_LIMIT_MILLICORES", "6000")
        assert podself.cpu_count() == 3  # cached: the pod is not re-read
        PlanWatcher(lambda new, old: None).check()  # what a resize handler runs
        assert podself.cpu_count() == 6
        monkeypatch.setenv("PODSELF_RESERVE_MILLICORES", "2000")
        assert podself.cpu_count() == 6  # cached: the policy is not re-parsed either
        podself.refresh()
        assert podself.cpu_count() == 4
        monkeypatch.delenv("PODSELF_RESERVE_MILLICORES")
        replaced = podself.read(environ={**os.environ, "RESOURCE_CPU_LIMIT_MILLICORES": "5000"})
        monkeypatch.setattr(podself, "_current", replaced)  # replaced, not refreshed
        assert podself.cpu_count() == 5


class TestGpus:
    """GPU counts come from the NVIDIA runtime's env and driver, with their source."""

    @pytest.mark.parametrize(
        ("env", "gpus", "origin"),
        [
            ({"NVIDIA_VISIBLE_DEVICES": "0,1"}, 2, "NVIDIA_VISIBLE_DEVICES"),
            ({"NVIDIA_VISIBLE_DEVICES": "GPU-a1b2,GPU-c3d4,GPU-a1b2"}, 2, "NVIDIA_VISIBLE_DEVICES"),
            ({"NVIDIA_VISIBLE_DEVICES": "void"}, 0, "NVIDIA_VISIBLE_DEVICES=void"),
            (
                {"NVIDIA_VISIBLE_DEVICES": "0,1,2,3", "CUDA_VISIBLE_DEVICES": "1"},
                1,
                "CUDA_VISIBLE_DEVICES",
            ),
            ({"CUDA_VISIBLE_DEVICES": "0,2,-1,3"}, 2, "CUDA_VISIBLE_DEVICES"),
            ({"CUDA_VISIBLE_DEVICES": ""}, 0, "CUDA_VISIBLE_DEVICES"),
        ],
    )
    def test_env(self, tmp_path: Path, env: dict[str, str], gpus: int, origin: str) -> None:
        """Device lists are counted (duplicates once; CUDA stops at an invalid entry)."""
        info = bare(tmp_path, env)
        assert info.resources.gpus == gpus
        assert info.source_of("resources.gpus") == Source("env", origin)

    def test_driver_counts_all(self, tmp_path: Path) -> None:
        """NVIDIA_VISIBLE_DEVICES=all, or no env at all, counts /proc/driver/nvidia/gpus."""
        proc = tmp_path / "proc"
        for bus in ("0000:3b:00.0", "0000:af:00.0"):
            (proc / "driver" / "nvidia" / "gpus" / bus).mkdir(parents=True)
        info = bare(tmp_path, {"NVIDIA_VISIBLE_DEVICES": "all"}, proc_root=proc)
        assert info.resources.gpus == 2
        driver = f"{proc}/driver/nvidia/gpus"
        assert info.source_of("resources.gpus") == Source(
            "env", f"NVIDIA_VISIBLE_DEVICES=all ({driver})"
        )
        fallback = bare(tmp_path, {}, proc_root=proc)
        assert fallback.resources.gpus == 2
        assert fallback.source_of("resources.gpus") == Source("fallback", driver)

    def test_none_without_runtime(self, tmp_path: Path) -> None:
        """No env and no driver: unknown, not 0; "all" without a driver is unknown too."""
        assert bare(tmp_path, {}).resources.gpus is None
        assert bare(tmp_path, {"NVIDIA_VISIBLE_DEVICES": "all"}).resources.gpus is None

    def test_bounded(self, tmp_path: Path) -> None:
        """A hostile list is refused with a warning, not counted."""
        info = bare(tmp_path, {"CUDA_VISIBLE_DEVICES": ",".join(map(str, range(5000)))})
        assert info.resources.gpus is None
        assert any("more than 1024 devices" in w for w in info.warnings)


class TestImportCost:
    def test_no_third_party_and_no_heavy_stdlib(self) -> None:
        """import podself + current() loads no third-party module and no costly stdlib one."""
        code = (
            "import sys; before = set(sys.modules); import podself; podself.current(); "
            "print('\\n'.join(sorted(set(sys.modules) - before)))"
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith(("POD", "K8S", "PODSELF"))}
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
        ).stdout.split()
        top = {name.split(".")[0] for name in out}
        stdlib = set(sys.stdlib_module_names)
        assert top - stdlib == {"podself"}
        heavy = {"typing", "dataclasses", "re", "enum", "json", "decimal", "asyncio", "threading"}
        assert not (top & heavy), sorted(top & heavy)


class TestWarningLog:
    def test_each_warning_logged_once(
        self, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Re-reading the same bad input keeps the warning on the object but logs it once."""
        env = {"RESOURCE_MEMORY_LIMIT_MB": "not-a-number-" + tmp_path.name}
        with caplog.at_level("WARNING", logger="podself"):
            first = bare(tmp_path, env)
            second = bare(tmp_path, env)
        assert first.warnings == second.warnings
        assert len(first.warnings) == 1
        logged = [r for r in caplog.records if "not-a-number" in r.getMessage()]
        assert len(logged) == 1


class TestRootRelocation:
    def test_podself_root_alone_keeps_real_cgroups(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """PODSELF_ROOT relocates volumes only; without a fake /proc the real cgroups are read."""
        pod = FakePod(tmp_path, env=None, cgroup="v2")
        calls: list[tuple[str, str]] = []

        from podself import cgroups

        real = cgroups.read_limits

        def spy(**kwargs: Any) -> Any:
            calls.append((str(kwargs["proc_root"]), str(kwargs["fs_root"])))
            return real(**kwargs)

        monkeypatch.setattr(cgroups, "read_limits", spy)
        info = read(environ={"PODSELF_ROOT": str(tmp_path)})
        assert info.labels == pod.labels
        assert calls[-1] == ("/proc", "/")
        read(environ={"PODSELF_ROOT": str(tmp_path), "PODSELF_PROC_ROOT": str(pod.proc_root)})
        assert calls[-1] == (str(pod.proc_root), str(tmp_path))


class TestOtelDisagreement:
    def test_disagreeing_otel_value_is_reported(self, tmp_path: Path) -> None:
        """An OTEL_RESOURCE_ATTRIBUTES value that contradicts a named env var is warned about."""
        info = bare(
            tmp_path,
            {"K8S_POD_NAME": "web-1", "OTEL_RESOURCE_ATTRIBUTES": "k8s.pod.name=web-2"},
        )
        assert info.name == "web-1"
        assert any("disagrees" in w and "k8s.pod.name" in w for w in info.warnings)

    def test_agreeing_otel_value_is_quiet(self, tmp_path: Path) -> None:
        """The same value under both names is not a problem."""
        info = bare(
            tmp_path,
            {"K8S_POD_NAME": "web-1", "OTEL_RESOURCE_ATTRIBUTES": "k8s.pod.name=web-1"},
        )
        assert info.warnings == ()
