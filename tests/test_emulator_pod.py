"""podself.emulator.pod: controller naming, API defaulting, scheduling and validation."""

from __future__ import annotations

import random
import re
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from podself.downward import go_quote
from podself.emulator import pod as podlib
from podself.errors import ManifestError, QuantityError
from podself.manifest.workloads import Workload, iter_workloads

NODE = podlib.NodeInfo("node-1", ("192.168.49.2",), {"cpu": "4", "memory": "8Gi"})
SAFE = f"[{podlib.SAFE_ALPHABET}]"
MODE_MSG = "must be a number between 0 and 0777 (octal), both inclusive"


def workload(obj: dict[str, Any]) -> Workload:
    """The one workload in ``obj``."""
    found = list(iter_workloads(obj))
    assert len(found) == 1
    return found[0]


def container(**extra: Any) -> dict[str, Any]:
    """A minimal container."""
    return {"name": "app", "image": "busybox:1.36", "command": ["true"], **extra}


def pod_obj(spec: dict[str, Any] | None = None, **meta: Any) -> dict[str, Any]:
    """A Pod manifest."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "demo", **meta},
        "spec": spec or {"containers": [container()]},
    }


def template_obj(kind: str, api: str, spec: dict[str, Any] | None = None) -> dict[str, Any]:
    """A workload manifest with a pod template."""
    template = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [container()]}}
    body: dict[str, Any] = {"template": template, **(spec or {})}
    if kind == "CronJob":
        body = {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": template}}}
    return {"apiVersion": api, "kind": kind, "metadata": {"name": "web"}, "spec": body}


def make(obj: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """make_pod with a seeded random source."""
    return podlib.make_pod(workload(obj), NODE, rng=random.Random(1), **kwargs)


class TestNaming:
    """Names, labels and owners a controller would give the pod."""

    def test_pod_keeps_its_name(self) -> None:
        """A Pod keeps its name; namespace defaults to default; uid is a UUID."""
        pod = make(pod_obj())
        meta = pod["metadata"]
        assert meta["name"] == "demo"
        assert meta["namespace"] == "default"
        uid = uuid.UUID(meta["uid"])
        assert (uid.version, uid.variant, str(uid)) == (4, uuid.RFC_4122, meta["uid"])
        assert "ownerReferences" not in meta
        assert make(pod_obj())["metadata"]["uid"] != meta["uid"]

    def test_starting_a_pod_imports_only_what_it_uses(self) -> None:
        """``podself run`` imports neither uuid (with platform), socket nor decimal for
        a plain pod: each is CPU every pod start pays."""
        code = (
            "import sys\n"
            "from podself.cli import main\n"
            "import podself.cli.run, podself.emulator.kubelet\n"
            "print(sorted({'uuid', 'platform', 'socket', 'decimal'} & set(sys.modules)))"
        )
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        assert done.stdout.strip() == "[]"

    def test_generate_name(self) -> None:
        """generateName gets five characters of the safe alphabet."""
        obj = pod_obj()
        del obj["metadata"]["name"]
        obj["metadata"]["generateName"] = "job-"
        name = make(obj)["metadata"]["name"]
        assert re.fullmatch(f"job-{SAFE}{{5}}", name)

    def test_generate_name_base_is_truncated(self) -> None:
        """The base is cut to 58 characters so the name fits in 63."""
        obj = pod_obj()
        del obj["metadata"]["name"]
        obj["metadata"]["generateName"] = "x" * 70
        assert len(make(obj)["metadata"]["name"]) == 63

    def test_namespace_from_manifest_and_override(self) -> None:
        """The manifest's namespace is used unless one is given."""
        obj = pod_obj(namespace="prod")
        assert make(obj)["metadata"]["namespace"] == "prod"
        assert make(obj, namespace="dev")["metadata"]["namespace"] == "dev"

    def test_deployment(self) -> None:
        """A Deployment's pod is <deploy>-<hash>-<xxxxx> with pod-template-hash."""
        pod = make(template_obj("Deployment", "apps/v1"))
        meta = pod["metadata"]
        hash_ = meta["labels"]["pod-template-hash"]
        assert re.fullmatch(f"{SAFE}+", hash_)
        assert re.fullmatch(f"web-{hash_}-{SAFE}{{5}}", meta["name"])
        assert meta["labels"]["app"] == "web"
        owner = meta["ownerReferences"][0]
        assert (owner["kind"], owner["name"]) == ("ReplicaSet", f"web-{hash_}")

    def test_deployment_hash_is_stable(self) -> None:
        """The same template always gives the same hash, a different one another."""
        first = make(template_obj("Deployment", "apps/v1"))["metadata"]["labels"]
        second = make(template_obj("Deployment", "apps/v1"))["metadata"]["labels"]
        assert first["pod-template-hash"] == second["pod-template-hash"]
        other = template_obj("Deployment", "apps/v1")
        other["spec"]["template"]["spec"]["containers"][0]["image"] = "busybox:1.37"
        assert (
            make(other)["metadata"]["labels"]["pod-template-hash"] != (first["pod-template-hash"])
        )

    def test_statefulset(self) -> None:
        """A StatefulSet's pod is <sts>-0 with its identity labels, hostname and subdomain."""
        pod = make(template_obj("StatefulSet", "apps/v1", {"serviceName": "web-svc"}))
        meta, spec = pod["metadata"], pod["spec"]
        assert meta["name"] == "web-0"
        assert meta["labels"]["statefulset.kubernetes.io/pod-name"] == "web-0"
        assert meta["labels"]["apps.kubernetes.io/pod-index"] == "0"
        assert meta["labels"]["controller-revision-hash"].startswith("web-")
        assert (spec["hostname"], spec["subdomain"]) == ("web-0", "web-svc")

    def test_statefulset_start_ordinal(self) -> None:
        """spec.ordinals.start sets the first ordinal."""
        pod = make(template_obj("StatefulSet", "apps/v1", {"ordinals": {"start": 3}}))
        assert pod["metadata"]["name"] == "web-3"
        assert pod["metadata"]["labels"]["apps.kubernetes.io/pod-index"] == "3"

    def test_job_labels(self) -> None:
        """A Job's pod carries the job-name and controller-uid labels."""
        pod = make(template_obj("Job", "batch/v1"))
        labels = pod["metadata"]["labels"]
        assert labels["batch.kubernetes.io/job-name"] == "web"
        assert labels["job-name"] == "web"
        assert labels["controller-uid"] == labels["batch.kubernetes.io/controller-uid"]
        assert re.fullmatch(f"web-{SAFE}{{5}}", pod["metadata"]["name"])

    def test_indexed_job(self) -> None:
        """An Indexed Job's pod has index 0, its hostname and JOB_COMPLETION_INDEX."""
        pod = make(template_obj("Job", "batch/v1", {"completionMode": "Indexed"}))
        meta, spec = pod["metadata"], pod["spec"]
        assert meta["annotations"]["batch.kubernetes.io/job-completion-index"] == "0"
        assert meta["labels"]["batch.kubernetes.io/job-completion-index"] == "0"
        assert spec["hostname"] == "web-0"
        assert re.fullmatch(f"web-0-{SAFE}{{5}}", meta["name"])
        env = spec["containers"][0]["env"]
        assert env[-1]["name"] == "JOB_COMPLETION_INDEX"

    def test_cronjob(self) -> None:
        """A CronJob's job is named after the scheduled minute."""
        now = datetime(2025, 11, 8, 10, 30, tzinfo=UTC)
        pod = podlib.make_pod(
            workload(template_obj("CronJob", "batch/v1")), NODE, rng=random.Random(1), now=now
        )
        minutes = int(now.timestamp() // 60)
        assert pod["metadata"]["labels"]["job-name"] == f"web-{minutes}"

    @pytest.mark.parametrize("kind", ["DaemonSet", "ReplicaSet"])
    def test_other_controllers(self, kind: str) -> None:
        """DaemonSet and ReplicaSet pods are <name>-<xxxxx>."""
        pod = make(template_obj(kind, "apps/v1"))
        assert re.fullmatch(f"web-{SAFE}{{5}}", pod["metadata"]["name"])

    def test_workload_without_name(self) -> None:
        """A workload without a name is refused."""
        obj = template_obj("Deployment", "apps/v1")
        obj["metadata"] = {}
        with pytest.raises(ManifestError, match="name or generateName is required"):
            make(obj)

    def test_safe_encode(self) -> None:
        """SafeEncodeString maps each character into the alphabet."""
        assert podlib.safe_encode("0123") == "".join(
            podlib.SAFE_ALPHABET[ord(c) % 27] for c in "0123"
        )


class TestDefaults:
    """SetDefaults_Pod and ServiceAccount admission."""

    def test_requests_from_limits(self) -> None:
        """Unset requests are copied from limits; set ones are kept."""
        spec = {
            "containers": [
                container(resources={"limits": {"cpu": "500m", "memory": "512Mi"}}),
                container(
                    name="b", resources={"limits": {"cpu": "1"}, "requests": {"cpu": "100m"}}
                ),
            ]
        }
        pod = make(pod_obj(spec))
        first, second = pod["spec"]["containers"]
        assert first["resources"]["requests"] == {"cpu": "500m", "memory": "512Mi"}
        assert second["resources"]["requests"] == {"cpu": "100m"}

    def test_pod_defaults(self) -> None:
        """Pod-level defaults and the service account are set."""
        spec = make(pod_obj())["spec"]
        assert spec["restartPolicy"] == "Always"
        assert spec["terminationGracePeriodSeconds"] == 30
        assert spec["serviceAccountName"] == "default"
        assert spec["enableServiceLinks"] is True
        assert spec["nodeName"] == "node-1"

    def test_container_defaults(self) -> None:
        """Pull policy follows the tag; termination message defaults are set."""
        spec = {"containers": [container(), container(name="b", image="web:latest")]}
        first, second = make(pod_obj(spec))["spec"]["containers"]
        assert first["imagePullPolicy"] == "IfNotPresent"
        assert second["imagePullPolicy"] == "Always"
        assert first["terminationMessagePath"] == "/dev/termination-log"

    def test_field_ref_api_version_and_default_mode(self) -> None:
        """fieldRef.apiVersion defaults to v1 and volumes get defaultMode 420."""
        spec = {
            "containers": [
                container(env=[{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "x"}}}])
            ],
            "volumes": [
                {
                    "name": "podinfo",
                    "downwardAPI": {"items": [{"path": "l", "fieldRef": {"fieldPath": "y"}}]},
                },
                {"name": "scratch", "emptyDir": None},
            ],
        }
        pod = make(pod_obj(spec))
        env = pod["spec"]["containers"][0]["env"][0]
        assert env["valueFrom"]["fieldRef"]["apiVersion"] == "v1"
        volumes = pod["spec"]["volumes"]
        assert volumes[0]["downwardAPI"]["defaultMode"] == 420
        assert volumes[0]["downwardAPI"]["items"][0]["fieldRef"]["apiVersion"] == "v1"
        assert volumes[1]["emptyDir"] == {}

    def test_service_account_volume(self) -> None:
        """Every container gets the kube-api-access volume at the service-account path."""
        spec = {"initContainers": [container(name="init")], "containers": [container()]}
        pod = make(pod_obj(spec))
        volume = pod["spec"]["volumes"][-1]
        assert re.fullmatch(f"kube-api-access-{SAFE}{{5}}", volume["name"])
        sources = volume["projected"]["sources"]
        assert sources[2]["downwardAPI"]["items"][0]["path"] == "namespace"
        for key in ("initContainers", "containers"):
            mount = pod["spec"][key][0]["volumeMounts"][-1]
            assert mount == {
                "name": volume["name"],
                "readOnly": True,
                "mountPath": podlib.SERVICE_ACCOUNT_MOUNT,
            }

    def test_automount_false(self) -> None:
        """automountServiceAccountToken: false adds nothing."""
        spec = {"automountServiceAccountToken": False, "containers": [container()]}
        pod = make(pod_obj(spec))
        assert "volumes" not in pod["spec"]
        assert pod["spec"]["containers"][0].get("volumeMounts") in (None, [])

    def test_own_service_account_mount_is_kept(self) -> None:
        """A container that mounts the service-account path itself is left alone."""
        mounts = [{"name": "mine", "mountPath": podlib.SERVICE_ACCOUNT_MOUNT}]
        spec = {
            "containers": [container(volumeMounts=mounts)],
            "volumes": [{"name": "mine", "emptyDir": {}}],
        }
        pod = make(pod_obj(spec))
        assert pod["spec"]["containers"][0]["volumeMounts"] == mounts
        assert [v["name"] for v in pod["spec"]["volumes"]] == ["mine"]


class TestStatus:
    """IPs, QoS and hostname."""

    def test_default_ips(self) -> None:
        """Pod IP defaults to loopback; host IPs come from the node."""
        status = make(pod_obj())["status"]
        assert status["podIP"] == "127.0.0.1"
        assert status["podIPs"] == [{"ip": "127.0.0.1"}]
        assert status["hostIP"] == "192.168.49.2"

    def test_dual_stack_sorting(self) -> None:
        """Pod IPs are ordered primary family first, at most two."""
        status = make(pod_obj(), pod_ips=["fd00::7", "10.244.0.7", "10.244.0.8"])["status"]
        assert [e["ip"] for e in status["podIPs"]] == ["10.244.0.7", "fd00::7"]

    def test_host_network(self) -> None:
        """A hostNetwork pod has the node's IPs."""
        spec = {"hostNetwork": True, "containers": [container()]}
        status = make(pod_obj(spec), pod_ips=["10.0.0.1"])["status"]
        assert status["podIP"] == "192.168.49.2"

    def test_bad_ip(self) -> None:
        """An invalid IP is refused with the flag named."""
        with pytest.raises(ManifestError, match=re.escape('--pod-ip "10.0.0.300"')):
            make(pod_obj(), pod_ips=["10.0.0.300"])

    @pytest.mark.parametrize(
        ("resources", "expected"),
        [
            ({}, "BestEffort"),
            ({"limits": {"cpu": "1", "memory": "1Gi"}}, "Guaranteed"),
            ({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}}, "Burstable"),
            ({"requests": {"memory": "1Gi"}}, "Burstable"),
        ],
    )
    def test_qos(self, resources: dict[str, Any], expected: str) -> None:
        """The QoS class follows requests and limits."""
        pod = make(pod_obj({"containers": [container(resources=resources)]}))
        assert pod["status"]["qosClass"] == expected

    def test_hostname(self) -> None:
        """spec.hostname wins, else the name, cut to 63 without trailing - or ."""
        assert podlib.pod_hostname({"metadata": {"name": "a"}, "spec": {"hostname": "h"}}) == "h"
        long_name = "a" * 62 + ".-b"
        assert podlib.pod_hostname({"metadata": {"name": long_name}}) == "a" * 62

    def test_sort_ips(self) -> None:
        """sort_ips keeps one address per family, primary first."""
        assert podlib.sort_ips(["::1", "127.0.0.1"], 4) == ["127.0.0.1", "::1"]
        assert podlib.sort_ips(["::1", "127.0.0.1"]) == ["::1", "127.0.0.1"]
        assert podlib.sort_ips([]) == []


class TestNode:
    """The local node."""

    def test_allocatable_from_machine(self) -> None:
        """CPU and memory default to this machine's."""
        allocatable = podlib.node_allocatable()
        assert int(allocatable["cpu"]) >= 1
        assert int(allocatable["memory"]) > 0

    def test_allocatable_overrides(self) -> None:
        """Flags override and are canonicalised."""
        allocatable = podlib.node_allocatable("1500m", "2048Mi")
        assert (allocatable["cpu"], allocatable["memory"]) == ("1500m", "2Gi")

    def test_bad_quantity(self) -> None:
        """A malformed quantity is refused."""
        with pytest.raises(QuantityError):
            podlib.node_allocatable("lots")

    def test_local_node(self) -> None:
        """The node name is given or the lower-cased hostname; host IP defaults to loopback."""
        node = podlib.local_node("Worker-1", ["fd00::1", "10.0.0.1"])
        assert node.name == "Worker-1"
        assert node.host_ips == ("fd00::1", "10.0.0.1")
        assert podlib.local_node().host_ips == ("127.0.0.1",)
        assert podlib.local_node().name == podlib.local_node().name.lower()


class TestDecodeFailure:
    """What the API server refuses before validating: values that do not decode."""

    @staticmethod
    def _pod(env: list[Any], **extra: Any) -> Workload:
        spec = {"containers": [container(env=env, **extra)]}
        return workload(
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec}
        )

    def test_first_wrong_type_in_document_order(self) -> None:
        """encoding/json reports the first value of the wrong type it meets."""
        env = [{"name": "A", "value": 1}, {"name": True, "value": "x"}]
        assert podlib.decode_failure(self._pod(env)) == (
            'Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal number into '
            "Go struct field EnvVar.spec.containers.env.value of type string"
        )

    def test_quantity_error_wins(self) -> None:
        """A quantity that does not parse ends decoding at once, even after a wrong type."""
        env = [
            {"name": "A", "value": True},
            {"name": "B", "valueFrom": {"resourceFieldRef": {"resource": "", "divisor": ""}}},
        ]
        assert podlib.decode_failure(self._pod(env)) == (
            'Pod in version "v1" cannot be handled as a Pod: quantities must match the regular '
            "expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
        )
        limits = {"resources": {"limits": {"memory": "1Gb"}}}
        assert podlib.decode_failure(self._pod([], **limits)) is not None

    def test_valid_object_decodes(self) -> None:
        """Validation errors are not decoding errors."""
        assert podlib.decode_failure(self._pod([{"name": "", "value": "x"}])) is None


class TestValidation:
    """What the API server rejects."""

    def test_seed_troubleshooting_message(self) -> None:
        """A volume fieldRef to status.podIP gives the seed's message."""
        spec = {
            "containers": [container()],
            "volumes": [
                {
                    "name": "podinfo",
                    "downwardAPI": {
                        "items": [{"path": "pod-ip", "fieldRef": {"fieldPath": "status.podIP"}}]
                    },
                }
            ],
        }
        errors = podlib.validate_workload(workload(pod_obj(spec, name="my-pod")))
        assert podlib.invalid_message("Pod", "my-pod", errors) == (
            'The Pod "my-pod" is invalid: spec.volumes[0].downwardAPI.fieldRef.fieldPath: '
            'Unsupported value: "status.podIP": supported values: "metadata.annotations", '
            '"metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid"'
        )

    def test_workload_paths(self) -> None:
        """Errors in a Deployment are reported at spec.template.spec."""
        obj = template_obj("Deployment", "apps/v1")
        obj["spec"]["template"]["spec"]["containers"][0]["env"] = [
            {"name": "X", "valueFrom": {"fieldRef": {"fieldPath": "metadata.pod.name"}}}
        ]
        errors = podlib.validate_workload(workload(obj))
        assert errors[0].startswith("spec.template.spec.containers[0].env[0].valueFrom.fieldRef")

    def test_structure(self) -> None:
        """Missing image, unknown volume, duplicate names and '..' subPaths are errors."""
        spec = {
            "containers": [
                {"name": "app", "volumeMounts": [{"name": "nope", "mountPath": "/x"}]},
                container(volumeMounts=[{"name": "v", "mountPath": "/y", "subPath": "../z"}]),
            ],
            "volumes": [{"name": "v", "emptyDir": {}}],
        }
        errors = podlib.validate_workload(workload(pod_obj(spec)))
        assert "spec.containers[0].image: Required value" in errors
        assert 'spec.containers[0].volumeMounts[0].name: Not found: "nope"' in errors
        assert 'spec.containers[1].name: Duplicate value: "app"' in errors
        # Kubernetes names the list, not the mount, for subPath errors.
        assert (
            'spec.containers[1].volumeMounts.subPath: Invalid value: "../z": '
            "must not contain '..'"
        ) in errors

    def test_no_containers(self) -> None:
        """A pod without containers is invalid."""
        errors = podlib.validate_workload(workload(pod_obj({"containers": []})))
        assert errors == ["spec.containers: Required value"]

    def test_valid(self) -> None:
        """The seed's first exercise is valid."""
        assert podlib.validate_workload(workload(pod_obj())) == []

    @pytest.mark.parametrize(
        "name",
        [".", "..", "../../home", "/", "/etc", "a/b", "a\x00b", "UPPER", "a" * 254],
        ids=repr,
    )
    def test_hostile_pod_names(self, name: str) -> None:
        """A name that is not a DNS-1123 subdomain is refused before anything is made of it."""
        errors = podlib.validate_workload(workload(pod_obj(name=name)))
        assert errors
        assert all(
            e.startswith(f"metadata.name: Invalid value: {go_quote(name)}: ") for e in errors
        )
        with pytest.raises(ManifestError, match=r"metadata\.name: Invalid value"):
            make(pod_obj(name=name))

    @pytest.mark.parametrize(
        "namespace",
        [".", "..", "../../home", "/", "a/b", "a.b", "a\x00b", "Default", "a" * 64],
        ids=repr,
    )
    def test_hostile_namespaces(self, namespace: str) -> None:
        """The manifest's namespace and -n must both be DNS-1123 labels; -n wins, as in make_pod."""
        expected = f"metadata.namespace: Invalid value: {go_quote(namespace)}: "
        errors = podlib.validate_workload(workload(pod_obj(namespace=namespace)))
        assert errors
        assert all(e.startswith(expected) for e in errors)
        given = podlib.validate_workload(workload(pod_obj(namespace="ok")), namespace=namespace)
        assert given == errors
        overridden = workload(pod_obj(namespace=namespace))
        assert podlib.validate_workload(overridden, namespace="ok") == []
        with pytest.raises(ManifestError, match=r"metadata\.namespace: Invalid value"):
            make(pod_obj(), namespace=namespace)

    def test_generate_name(self) -> None:
        """A Pod's generateName is checked as a prefix, and the name made of it too."""
        obj = pod_obj()
        obj["metadata"] = {"generateName": "Web-"}
        errors = podlib.validate_workload(workload(obj))
        assert [e.split(":")[0] for e in errors] == ["metadata.generateName", "metadata.name"]
        obj["metadata"] = {"generateName": "web-"}
        assert podlib.validate_workload(workload(obj)) == []

    def test_controller_names(self) -> None:
        """A workload's own name is checked (and a CronJob's length), and the pod name a
        controller derives from it before it becomes a path."""
        obj = template_obj("Deployment", "apps/v1")
        obj["metadata"]["name"] = "../../etc"
        errors = podlib.validate_workload(workload(obj))
        assert [e.split(":")[0] for e in errors] == ["metadata.name"]
        cron = template_obj("CronJob", "batch/v1")
        cron["metadata"]["name"] = "c" * 53
        assert podlib.validate_workload(workload(cron)) == [
            f'metadata.name: Invalid value: "{"c" * 53}": must be no more than 52 characters'
        ]
        sts = template_obj("StatefulSet", "apps/v1")
        sts["metadata"]["name"] = "s" * 253
        assert podlib.validate_workload(workload(sts)) == []
        with pytest.raises(ManifestError, match=r"metadata.name: Invalid value: .*253 characters"):
            make(sts)

    def test_template_labels_are_named_at_the_template(self) -> None:
        """ValidatePodTemplateSpec reports a template's labels at spec.template.labels; the
        workload's own labels are checked at metadata.labels."""
        obj = template_obj("Deployment", "apps/v1")
        obj["metadata"]["labels"] = {"bad key!": "x"}
        obj["spec"]["template"]["metadata"]["labels"] = {"app": "bad value"}
        errors = podlib.validate_workload(workload(obj))
        assert [e.split(":")[0] for e in errors] == ["metadata.labels", "spec.template.labels"]
        # The same path when a running pod's manifest is edited.
        assert [e.split(":")[0] for e in podlib.template_metadata_errors(workload(obj))] == [
            "spec.template.labels"
        ]
        pod = workload(pod_obj(labels={"app": "bad value"}))
        assert [e.split(":")[0] for e in podlib.template_metadata_errors(pod)] == [
            "metadata.labels"
        ]

    @pytest.mark.parametrize(
        "name", [".", "..", "../../..", "/", "a/b", "a\x00b", "UPPER", "a" * 64], ids=repr
    )
    def test_hostile_container_and_volume_names(self, name: str) -> None:
        """Container and volume names are DNS-1123 labels (they name directories)."""
        spec = {
            "containers": [container(), container(name=name)],
            "volumes": [{"name": name, "emptyDir": {}}],
        }
        errors = podlib.validate_workload(workload(pod_obj(spec)))
        fields = {e.split(":")[0] for e in errors}
        assert fields == {"spec.volumes[0].name", "spec.containers[1].name"}

    @pytest.mark.parametrize("mode", [0o4755, 0o2755, 0o1777, 0o1000, -1], ids=oct)
    def test_file_modes(self, mode: int) -> None:
        """setuid/setgid/sticky and out-of-range modes are refused on every file volume."""
        item = {"key": "k", "path": "k", "mode": mode}
        spec = {
            "containers": [container()],
            "volumes": [
                {"name": "s", "secret": {"secretName": "s", "defaultMode": mode}},
                {"name": "c", "configMap": {"name": "c", "items": [item]}},
                {
                    "name": "p",
                    "projected": {"sources": [{"secret": {"name": "s", "items": [item]}}]},
                },
            ],
        }
        errors = podlib.validate_workload(workload(pod_obj(spec)))
        assert errors == [
            f"spec.volumes[0].secret.defaultMode: Invalid value: {mode}: {MODE_MSG}",
            f"spec.volumes[1].configMap.items[0].mode: Invalid value: {mode}: {MODE_MSG}",
            f"spec.volumes[2].projected.sources[0].secret.items[0].mode: Invalid value: {mode}: "
            + MODE_MSG,
        ]

    def test_relative_mount_path_is_accepted(self) -> None:
        """The API server accepts a relative mountPath (the runtime puts it under the container
        root); only uniqueness and presence are checked."""
        mounts = [{"name": "v", "mountPath": "../x"}, {"name": "v", "mountPath": "../x"}]
        spec = {
            "containers": [container(volumeMounts=mounts)],
            "volumes": [{"name": "v", "emptyDir": {}}],
        }
        assert podlib.validate_workload(workload(pod_obj(spec))) == [
            'spec.containers[0].volumeMounts[1].mountPath: Invalid value: "../x": must be unique'
        ]

    def test_nul_bytes_are_refused_by_the_emulator(self) -> None:
        """Strings the API server accepts but no path, argument or variable can hold."""
        mounts = [{"name": "v", "mountPath": "/a\x00b", "subPath": "s\x00"}]
        spec = {
            "containers": [container(volumeMounts=mounts, command=["sh", "-c\x00"])],
            "volumes": [
                {"name": "v", "configMap": {"name": "c", "items": [{"key": "k", "path": "p\x00"}]}}
            ],
        }
        errors = podlib.validate_workload(workload(pod_obj(spec)))
        assert [e.split(":")[0] for e in errors] == [
            "spec.containers[0].command[1]",
            "spec.containers[0].volumeMounts[0].mountPath",
            "spec.containers[0].volumeMounts[0].subPath",
            "spec.volumes[0].configMap.items[0].path",
        ]
        assert all("must not contain a NUL byte (refused by podself run" in e for e in errors)
        assert '"/a\\x00b"' in errors[1]

    def test_nul_in_an_annotation_read_by_env(self) -> None:
        """An annotation may hold a NUL byte, but not an env var made of it."""
        env = [{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "metadata.annotations['a']"}}}]
        spec = {"containers": [container(env=env)]}
        errors = podlib.validate_workload(workload(pod_obj(spec, annotations={"a": "x\x00y"})))
        assert errors == [
            "spec.containers[0].env[0].valueFrom.fieldRef: Invalid value: "
            "\"metadata.annotations['a']\": the annotation's value holds a NUL byte (refused by "
            "podself run, not by the API server: no environment variable can hold one)"
        ]
        unused = pod_obj(annotations={"a": "x\x00y"})
        assert podlib.validate_workload(workload(unused)) == []

    def test_nul_in_a_name_is_reported_once(self) -> None:
        """A NUL byte in a field that already has an API error is not reported again."""
        spec = {"containers": [container(name="a\x00b")]}
        errors = podlib.validate_workload(workload(pod_obj(spec)))
        assert [e.split(":")[0] for e in errors] == ["spec.containers[0].name"]

    def test_namespace_of_the_wrong_type(self) -> None:
        """A namespace that is not a string is reported, not replaced by "default"."""
        errors = podlib.validate_workload(workload(pod_obj(namespace=5)))
        assert errors == ["metadata.namespace: Invalid value: 5: must be of type string"]
        assert podlib.validate_workload(workload(pod_obj(namespace=""))) == []

    def test_name_in_the_message_is_quoted(self) -> None:
        """The object's name is Go-quoted, as the API server's %q does: no control character
        of a hostile name reaches the terminal."""
        text = podlib.invalid_message("Pod", "a\x1b[2Jb", ["x"])
        assert text == 'The Pod "a\\x1b[2Jb" is invalid: x'

    def test_several_errors_render_as_a_list(self) -> None:
        """Several errors are listed under the first line, like kubectl."""
        text = podlib.invalid_message("Pod", "p", ["a: x", "b: y"])
        assert text == 'The Pod "p" is invalid: \n* a: x\n* b: y'
