"""A fake pod on the local filesystem, for testing code that uses podself.

``FakePod`` writes what a kubelet would give a container: env vars computed from the pod's
fields and resources exactly as the kubelet computes them (divisors, rounding), a Downward API
volume in the ``..data`` layout, a service-account directory and a cgroup v1 or v2 tree with
the matching limits. ``pod.read()`` runs ``podself.read`` against it; ``pod.set_labels()``
updates the volume the way the kubelet does, for watcher tests::

    from podself.testing import FakePod

    def test_workers(tmp_path):
        pod = FakePod(tmp_path, limits={"cpu": "2", "memory": "2Gi"})
        info = pod.read()
        assert info.resources.cpu_limit == 2000
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from pathlib import Path

from podself.pod import PodInfo, read

__all__ = ["SEED_ENV", "FakePod"]

# The env names of the recommended convention (K8S_*, RESOURCE_*) with their field paths
# or resources and divisors.
SEED_ENV: Mapping[str, tuple[str, str]] = {
    "K8S_POD_NAME": ("fieldRef", "metadata.name"),
    "K8S_NAMESPACE": ("fieldRef", "metadata.namespace"),
    "K8S_POD_UID": ("fieldRef", "metadata.uid"),
    "K8S_POD_IP": ("fieldRef", "status.podIP"),
    "K8S_POD_IPS": ("fieldRef", "status.podIPs"),
    "K8S_HOST_IP": ("fieldRef", "status.hostIP"),
    "K8S_NODE_NAME": ("fieldRef", "spec.nodeName"),
    "K8S_SERVICE_ACCOUNT": ("fieldRef", "spec.serviceAccountName"),
    "RESOURCE_CPU_LIMIT_MILLICORES": ("limits.cpu", "1m"),
    "RESOURCE_CPU_REQUEST_MILLICORES": ("requests.cpu", "1m"),
    "RESOURCE_MEMORY_LIMIT_MB": ("limits.memory", "1Mi"),
    "RESOURCE_MEMORY_REQUEST_MB": ("requests.memory", "1Mi"),
}

# The files podself inject projects for each container: (file, resource, divisor).
_CONTAINER_FILES = (
    ("cpu_limit", "limits.cpu", "1m"),
    ("cpu_request", "requests.cpu", "1m"),
    ("mem_limit", "limits.memory", "1Mi"),
    ("mem_request", "requests.memory", "1Mi"),
)

_MOUNTINFO_V2 = (
    "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 "
    "rw,nsdelegate,memory_recursiveprot\n"
)
_MOUNTINFO_V1 = (
    "30 23 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:4 - tmpfs tmpfs ro,mode=755\n"
    "33 30 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:9 - "
    "cgroup cgroup rw,cpu,cpuacct\n"
    "34 30 0:30 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:10 - "
    "cgroup cgroup rw,memory\n"
)


class FakePod:
    """A pod's view of itself, written under ``root``.

    Args:
        root: an empty directory (e.g. pytest's ``tmp_path``).
        name, namespace, uid, pod_ips, host_ips, node_name, service_account, container:
            the pod's fields (``uid`` defaults to a random UUID).
        labels, annotations: written to ``<root>/etc/podinfo/{labels,annotations}``.
        limits, requests: the container's resources as quantity strings; requests default to
            limits as the API server does.
        env: ``"k8s"`` for the ``K8S_*``/``RESOURCE_*`` names (default), ``None`` for no env,
            or a mapping ``{NAME: ("fieldRef", path) | (resource, divisor)}``.
        cgroup: ``"v2"`` (default), ``"v1"`` or ``None`` (no cgroup files).
        node_allocatable: used for limits the container does not set, like the kubelet.
        extra_env: added as is.
        layout: ``"root"`` (default) puts ``cpu_limit`` and ``mem_limit`` at the volume's root,
            as older manifests do; ``"containers"`` writes what ``podself inject`` does: each
            container's ``cpu_limit``, ``cpu_request``, ``mem_limit`` and ``mem_request`` under
            ``containers/<name>/`` and the container's name in ``K8S_CONTAINER_NAME``.
        others: the other containers of the pod, name -> limits (requests equal to limits),
            projected under ``containers/<name>/`` with the ``"containers"`` layout.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        name: str = "demo-pod",
        namespace: str = "default",
        uid: str | None = None,
        pod_ips: tuple[str, ...] = ("10.244.0.7",),
        host_ips: tuple[str, ...] = ("192.168.49.2",),
        node_name: str = "minikube",
        service_account: str = "default",
        container: str = "app",
        labels: Mapping[str, str] | None = None,
        annotations: Mapping[str, str] | None = None,
        limits: Mapping[str, str] | None = None,
        requests: Mapping[str, str] | None = None,
        env: str | Mapping[str, tuple[str, str]] | None = "k8s",
        cgroup: str | None = "v2",
        node_allocatable: Mapping[str, str] | None = None,
        extra_env: Mapping[str, str] | None = None,
        layout: str = "root",
        others: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        if layout not in ("root", "containers"):
            msg = f"FakePod layout must be 'root' or 'containers', got {layout!r}"
            raise ValueError(msg)
        if others and layout != "containers":
            msg = "FakePod others needs layout='containers'"
            raise ValueError(msg)
        self.layout = layout
        self.others = {name: dict(limits) for name, limits in (others or {}).items()}
        self.root = Path(root)
        self.name = name
        self.namespace = namespace
        self.uid = uid or str(uuid.uuid4())
        self.pod_ips = tuple(pod_ips)
        self.host_ips = tuple(host_ips)
        self.node_name = node_name
        self.service_account = service_account
        self.container = container
        self.labels = dict(labels if labels is not None else {"app": "demo"})
        self.annotations = dict(annotations or {})
        self.limits = dict(limits if limits is not None else {"cpu": "500m", "memory": "512Mi"})
        self.requests = dict(requests) if requests is not None else dict(self.limits)
        self.node_allocatable = dict(
            node_allocatable or {"cpu": "4", "memory": "8Gi", "ephemeral-storage": "100Gi"}
        )
        self.podinfo_dir = self.root / "etc" / "podinfo"
        self.serviceaccount_dir = self.root / "var/run/secrets/kubernetes.io/serviceaccount"
        self.proc_root = self.root / "proc"
        self.hosts_file = self.root / "etc" / "hosts"
        self.environ: dict[str, str] = {"HOSTNAME": name, "KUBERNETES_SERVICE_HOST": "10.96.0.1"}
        spec = SEED_ENV if env == "k8s" else (env or {})
        if isinstance(spec, str):
            msg = f"FakePod env must be 'k8s', None or a mapping, got {spec!r}"
            raise ValueError(msg)
        for var, (kind, arg) in spec.items():
            self.environ[var] = self.env_value(kind, arg)
        if layout == "containers":
            self.environ["K8S_CONTAINER_NAME"] = container
        self.environ.update(extra_env or {})
        self._cgroup = cgroup
        self._write_volume()
        self._write_serviceaccount()
        self._write_hosts()
        if cgroup is not None:
            self._write_cgroups(cgroup)

    # -- values the kubelet would compute ----------------------------------------------

    def env_value(self, kind: str, arg: str) -> str:
        """The exact string the kubelet puts in an env var for a fieldRef or resourceFieldRef."""
        if kind == "fieldRef":
            fields = {
                "metadata.name": self.name,
                "metadata.namespace": self.namespace,
                "metadata.uid": self.uid,
                "spec.nodeName": self.node_name,
                "spec.serviceAccountName": self.service_account,
                "status.podIP": self.pod_ips[0] if self.pod_ips else "",
                "status.podIPs": ",".join(self.pod_ips),
                "status.hostIP": self.host_ips[0] if self.host_ips else "",
                "status.hostIPs": ",".join(self.host_ips),
            }
            if arg.startswith("metadata.labels['"):
                return self.labels.get(arg[len("metadata.labels['") : -2], "")
            if arg.startswith("metadata.annotations['"):
                return self.annotations.get(arg[len("metadata.annotations['") : -2], "")
            return fields[arg]
        return self.resource_value(kind, arg)

    def resource_value(
        self, resource: str, divisor: str | None = None, container: str | None = None
    ) -> str:
        """``resourceFieldRef`` value of this container (or of ``container``, one of
        ``others``), with the kubelet's fallback."""
        from podself.downward import resource_value

        if container is None or container == self.container:
            resources = {"limits": self.limits, "requests": self.requests}
        else:
            limits = self.others[container]
            resources = {"limits": limits, "requests": limits}
        return resource_value(resource, resources, divisor, self.node_allocatable)

    # -- files ---------------------------------------------------------------------------

    def _write_volume(self) -> None:
        self.write_volume()

    def write_volume(self) -> bool:
        """(Re)project the Downward API volume the way the kubelet does; True if it changed."""
        from podself.atomic import write
        from podself.downward import format_map

        payload: dict[str, bytes] = {
            "labels": format_map(self.labels).encode(),
            "annotations": format_map(self.annotations).encode(),
            "name": self.name.encode(),
            "namespace": self.namespace.encode(),
            "uid": self.uid.encode(),
        }
        if self.layout == "root":
            payload["cpu_limit"] = self.resource_value("limits.cpu", "1m").encode()
            payload["mem_limit"] = self.resource_value("limits.memory", "1Mi").encode()
        else:
            from podself.names import container_file

            for name in (self.container, *self.others):
                for file_name, resource, divisor in _CONTAINER_FILES:
                    value = self.resource_value(resource, divisor, name)
                    payload[container_file(name, file_name)] = value.encode()
        self.podinfo_dir.mkdir(parents=True, exist_ok=True)
        return write(self.podinfo_dir, payload)

    def set_labels(self, labels: Mapping[str, str]) -> bool:
        """Replace the labels and re-project the volume (``kubectl label --overwrite``)."""
        self.labels = dict(labels)
        return self.write_volume()

    def set_annotations(self, annotations: Mapping[str, str]) -> bool:
        """Replace the annotations and re-project the volume."""
        self.annotations = dict(annotations)
        return self.write_volume()

    def _write_serviceaccount(self) -> None:
        from podself.atomic import write

        self.serviceaccount_dir.mkdir(parents=True, exist_ok=True)
        write(self.serviceaccount_dir, {"namespace": self.namespace.encode()})

    def _write_hosts(self) -> None:
        self.hosts_file.parent.mkdir(parents=True, exist_ok=True)
        lines = ["# Kubernetes-managed hosts file.", "127.0.0.1\tlocalhost"]
        lines += [f"{ip}\t{self.name}" for ip in self.pod_ips]
        self.hosts_file.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def _write_cgroups(self, version: str) -> None:
        uid = self.uid.replace("-", "_")
        cid = "0123456789abcdef" * 4
        cpu_m = int(self.resource_value("limits.cpu", "1m"))
        memory = int(self.resource_value("limits.memory", "1"))
        cpu_set = "cpu" in self.limits
        mem_set = "memory" in self.limits
        proc = self.proc_root / "self"
        proc.mkdir(parents=True, exist_ok=True)
        if version == "v2":
            path = (
                f"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{uid}.slice/"
                f"cri-containerd-{cid}.scope"
            )
            (proc / "mountinfo").write_text(_MOUNTINFO_V2, encoding="utf-8")
            (proc / "cgroup").write_text(f"0::{path}\n", encoding="utf-8")
            leaf = self.root / "sys/fs/cgroup" / path.lstrip("/")
            leaf.mkdir(parents=True, exist_ok=True)
            quota = f"{cpu_m * 100} 100000" if cpu_set else "max 100000"
            (leaf / "cpu.max").write_text(quota + "\n", encoding="utf-8")
            (leaf / "memory.max").write_text(
                (str(memory) if mem_set else "max") + "\n", encoding="utf-8"
            )
        elif version == "v1":
            path = f"/kubepods/burstable/pod{self.uid}/{cid}"
            (proc / "mountinfo").write_text(_MOUNTINFO_V1, encoding="utf-8")
            (proc / "cgroup").write_text(
                f"12:memory:{path}\n11:cpu,cpuacct:{path}\n1:name=systemd:{path}\n",
                encoding="utf-8",
            )
            cpu_dir = self.root / "sys/fs/cgroup/cpu,cpuacct" / path.lstrip("/")
            mem_dir = self.root / "sys/fs/cgroup/memory" / path.lstrip("/")
            cpu_dir.mkdir(parents=True, exist_ok=True)
            mem_dir.mkdir(parents=True, exist_ok=True)
            quota = str(cpu_m * 100) if cpu_set else "-1"
            (cpu_dir / "cpu.cfs_quota_us").write_text(quota + "\n", encoding="utf-8")
            (cpu_dir / "cpu.cfs_period_us").write_text("100000\n", encoding="utf-8")
            limit = str(memory) if mem_set else "9223372036854771712"
            (mem_dir / "memory.limit_in_bytes").write_text(limit + "\n", encoding="utf-8")
        else:
            msg = f"FakePod cgroup must be 'v1', 'v2' or None, got {version!r}"
            raise ValueError(msg)

    # -- reading -------------------------------------------------------------------------

    def read_args(self) -> dict[str, object]:
        """The ``podself.read`` keyword arguments that point at this fake pod."""
        return {
            "environ": self.environ,
            "podinfo_dirs": [self.podinfo_dir],
            "cgroup_root": self.root,
            "proc_root": self.proc_root if self._cgroup else self.root / "no-proc",
            "serviceaccount_dir": self.serviceaccount_dir,
            "hosts_file": self.hosts_file,
        }

    def read(self, **kwargs: object) -> PodInfo:
        """``podself.read`` against this fake pod; ``kwargs`` override the arguments."""
        return read(**{**self.read_args(), **kwargs})  # type: ignore[arg-type]
