"""AdmissionReviews shaped as the API server sends them, and their answers decoded."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import jsonpatch


def pod(
    name: str = "",
    *,
    containers: list[dict[str, Any]] | None = None,
    annotations: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    """A Pod as the API server has it at admission: defaulted, no uid or status yet."""
    metadata: dict[str, Any] = {"namespace": "shop", "creationTimestamp": None}
    if name:
        metadata["name"] = name
    else:
        metadata["generateName"] = "web-7d4b9c-"
    if labels is not None:
        metadata["labels"] = labels
    if annotations is not None:
        metadata["annotations"] = annotations
    default = {
        "name": "app",
        "image": "registry.example/app:1.0",
        "resources": {
            "limits": {"cpu": "500m", "memory": "256Mi"},
            "requests": {"cpu": "250m", "memory": "128Mi"},
        },
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "imagePullPolicy": "IfNotPresent",
    }
    body = {
        "containers": containers if containers is not None else [default],
        "restartPolicy": "Always",
        "dnsPolicy": "ClusterFirst",
        "serviceAccountName": "default",
        **spec,
    }
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": body, "status": {}}


def review(
    obj: Any,
    *,
    operation: str = "CREATE",
    kind: str = "Pod",
    dry_run: bool = False,
    uid: str | None = None,
    api_version: str = "admission.k8s.io/v1",
    sub_resource: str | None = None,
) -> dict[str, Any]:
    """An AdmissionReview request (fields as admission.k8s.io/v1 names them)."""
    resource = {"group": "", "version": "v1", "resource": kind.lower() + "s"}
    request: dict[str, Any] = {
        "uid": uid or str(uuid.uuid4()),
        "kind": {"group": "", "version": "v1", "kind": kind},
        "resource": resource,
        "requestKind": {"group": "", "version": "v1", "kind": kind},
        "requestResource": resource,
        "namespace": "shop",
        "operation": operation,
        "userInfo": {
            "username": "system:serviceaccount:kube-system:replicaset-controller",
            "uid": "2f3c5d2e-0d7e-4c1e-9b1a-6f1f1d6e2a11",
            "groups": ["system:serviceaccounts", "system:authenticated"],
        },
        "object": obj,
        "oldObject": None,
        "dryRun": dry_run,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
    }
    if sub_resource is not None:
        request["subResource"] = sub_resource
    return {"apiVersion": api_version, "kind": "AdmissionReview", "request": request}


def encode(document: Any) -> bytes:
    return json.dumps(document).encode()


def response(body: bytes) -> dict[str, Any]:
    """The ``response`` of an answer, checked for what the API server requires."""
    answer = json.loads(body)
    assert answer["kind"] == "AdmissionReview"
    result: dict[str, Any] = answer["response"]
    assert result["allowed"] is True
    return result


def operations(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The decoded JSON Patch of a response ([] when there is none)."""
    if "patch" not in result:
        assert "patchType" not in result
        return []
    assert result["patchType"] == "JSONPatch"
    ops: list[dict[str, Any]] = json.loads(base64.b64decode(result["patch"], validate=True))
    return ops


def patched(obj: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """``obj`` with the response's patch applied by a real JSON Patch implementation."""
    out: dict[str, Any] = jsonpatch.apply_patch(obj, operations(result))
    return out
