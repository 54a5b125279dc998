"""The objects that install the webhook: Namespace, ServiceAccount, Secret (or cert-manager's
Issuer and Certificate), Deployment, PodDisruptionBudget, Service and the
MutatingWebhookConfiguration.

Two webhooks share one server: ``namespace.inject.podself.dev`` for the namespaces labelled
``podself.dev/inject=true`` (every new pod there, unless annotated ``podself.dev/inject:
"false"``), and ``annotated.inject.podself.dev`` for the other namespaces, where the server
injects only pods annotated ``podself.dev/inject: "true"`` (the API server cannot select on
annotations, so it sends those pods and the server decides). Both ignore the webhook's own
namespace and, with ``failurePolicy: Ignore``, a webhook that is down or slow never blocks a
pod: it is created without the injection.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from podself.webhook.admission import INJECT_KEY
from podself.webhook.certs import CA_CERT_FILE, CERT_FILE, KEY_FILE, service_dns_names

__all__ = ["CERT_DIR", "NAME", "InstallOptions", "render"]

NAME: Final = "podself-webhook"
CERT_DIR: Final = "/etc/podself-webhook/tls"
_APP_LABEL: Final = "app.kubernetes.io/name"
_PORT: Final = 8443
# Namespaces whose pods the cluster itself needs to start: never sent to the webhook.
_SYSTEM_NAMESPACES: Final = ("kube-system", "kube-public", "kube-node-lease")


@dataclass(frozen=True, slots=True)
class InstallOptions:
    """What to render. ``certificates`` (``ca.crt``, ``tls.crt``, ``tls.key`` PEM bytes) gives
    a Secret and the ``caBundle``; without it, ``cert_manager`` must be set."""

    image: str
    namespace: str = "podself-system"
    replicas: int = 2
    timeout_seconds: int = 5
    reinvocation: str = "IfNeeded"
    annotated_pods: bool = True
    certificates: Mapping[str, bytes] | None = None
    cert_manager: bool = False
    serve_args: tuple[str, ...] = ()
    image_pull_policy: str = "IfNotPresent"


def _meta(options: InstallOptions, name: str = NAME, **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": options.namespace}
    meta["labels"] = {_APP_LABEL: NAME, "app.kubernetes.io/part-of": "podself"}
    meta.update(extra)
    return meta


def _selector() -> dict[str, Any]:
    return {"matchLabels": {_APP_LABEL: NAME}}


def _deployment(options: InstallOptions) -> dict[str, Any]:
    container = {
        "name": "webhook",
        "image": options.image,
        "imagePullPolicy": options.image_pull_policy,
        "command": ["podself"],
        "args": [
            "webhook",
            "serve",
            "--cert-dir",
            CERT_DIR,
            "--port",
            str(_PORT),
            *options.serve_args,
        ],
        "ports": [{"name": "https", "containerPort": _PORT, "protocol": "TCP"}],
        "readinessProbe": {
            "httpGet": {"path": "/readyz", "port": "https", "scheme": "HTTPS"},
            "periodSeconds": 5,
        },
        "livenessProbe": {
            "httpGet": {"path": "/healthz", "port": "https", "scheme": "HTTPS"},
            "periodSeconds": 10,
            "failureThreshold": 3,
        },
        "resources": {
            "requests": {"cpu": "50m", "memory": "64Mi"},
            "limits": {"cpu": "1", "memory": "256Mi"},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "runAsUser": 65532,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": [{"name": "tls", "mountPath": CERT_DIR, "readOnly": True}],
    }
    pod_labels = {_APP_LABEL: NAME, "app.kubernetes.io/part-of": "podself"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(options),
        "spec": {
            "replicas": options.replicas,
            "selector": _selector(),
            "template": {
                "metadata": {
                    "labels": pod_labels,
                    # its own pods are never sent to it; this says so to anyone reading
                    "annotations": {INJECT_KEY: "false"},
                },
                "spec": {
                    "serviceAccountName": NAME,
                    "automountServiceAccountToken": False,  # it never calls the API server
                    # the server stops being ready, then drains (podself webhook serve)
                    "terminationGracePeriodSeconds": 30,
                    "containers": [container],
                    "volumes": [{"name": "tls", "secret": {"secretName": f"{NAME}-tls"}}],
                    "topologySpreadConstraints": [
                        {
                            "maxSkew": 1,
                            "topologyKey": "kubernetes.io/hostname",
                            "whenUnsatisfiable": "ScheduleAnyway",
                            "labelSelector": _selector(),
                        }
                    ],
                },
            },
        },
    }


def _rules() -> list[dict[str, Any]]:
    return [
        {
            "operations": ["CREATE"],
            "apiGroups": [""],
            "apiVersions": ["v1"],
            "resources": ["pods"],
            "scope": "Namespaced",
        }
    ]


def _webhook(
    options: InstallOptions, name: str, path: str, namespaces: list[dict[str, Any]]
) -> dict[str, Any]:
    client: dict[str, Any] = {
        "service": {"name": NAME, "namespace": options.namespace, "path": path, "port": 443}
    }
    if options.certificates is not None:
        client["caBundle"] = base64.b64encode(options.certificates[CA_CERT_FILE]).decode("ascii")
    own = {
        "key": "kubernetes.io/metadata.name",
        "operator": "NotIn",
        "values": [*_SYSTEM_NAMESPACES, options.namespace],
    }
    return {
        "name": name,
        "clientConfig": client,
        "rules": _rules(),
        "admissionReviewVersions": ["v1"],
        "sideEffects": "None",
        "failurePolicy": "Ignore",
        "matchPolicy": "Equivalent",
        "timeoutSeconds": options.timeout_seconds,
        "reinvocationPolicy": options.reinvocation,
        "namespaceSelector": {"matchExpressions": [*namespaces, own]},
        # its own pods, wherever they run
        "objectSelector": {
            "matchExpressions": [{"key": _APP_LABEL, "operator": "NotIn", "values": [NAME]}]
        },
    }


def _configuration(options: InstallOptions) -> dict[str, Any]:
    webhooks = [
        _webhook(
            options,
            "namespace.inject.podself.dev",
            "/mutate",
            [{"key": INJECT_KEY, "operator": "In", "values": ["true"]}],
        )
    ]
    if options.annotated_pods:
        webhooks.append(
            _webhook(
                options,
                "annotated.inject.podself.dev",
                "/mutate/annotated",
                # a namespace labelled "false" opts all its pods out
                [{"key": INJECT_KEY, "operator": "NotIn", "values": ["true", "false"]}],
            )
        )
    metadata: dict[str, Any] = {"name": NAME, "labels": _meta(options)["labels"]}
    if options.certificates is None:
        metadata["annotations"] = {"cert-manager.io/inject-ca-from": f"{options.namespace}/{NAME}"}
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": metadata,
        "webhooks": webhooks,
    }


def _cert_manager(options: InstallOptions) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "cert-manager.io/v1",
            "kind": "Issuer",
            "metadata": _meta(options),
            "spec": {"selfSigned": {}},
        },
        {
            "apiVersion": "cert-manager.io/v1",
            "kind": "Certificate",
            "metadata": _meta(options),
            "spec": {
                "secretName": f"{NAME}-tls",
                "dnsNames": service_dns_names(NAME, options.namespace),
                "issuerRef": {"name": NAME, "kind": "Issuer"},
                "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
            },
        },
    ]


def render(options: InstallOptions) -> list[dict[str, Any]]:
    """The objects, in the order ``kubectl apply`` should create them."""
    if options.certificates is None and not options.cert_manager:
        msg = "certificates: give the files of podself webhook certs, or use cert-manager"
        raise ValueError(msg)
    objects: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": options.namespace,
                "labels": {INJECT_KEY: "false", **_meta(options)["labels"]},
            },
        },
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": _meta(options),
            "automountServiceAccountToken": False,
        },
    ]
    if options.certificates is not None:
        data = {
            name: base64.b64encode(options.certificates[name]).decode("ascii")
            for name in (CA_CERT_FILE, CERT_FILE, KEY_FILE)
        }
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": _meta(options, f"{NAME}-tls"),
                "type": "kubernetes.io/tls",
                "data": data,
            }
        )
    else:
        objects += _cert_manager(options)
    objects += [
        _deployment(options),
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": _meta(options),
            # one pod at a time; minAvailable: 1 would block every node drain at --replicas 1
            "spec": {"maxUnavailable": 1, "selector": _selector()},
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _meta(options),
            "spec": {
                "selector": {_APP_LABEL: NAME},
                "ports": [{"name": "https", "port": 443, "targetPort": "https", "protocol": "TCP"}],
            },
        },
        _configuration(options),
    ]
    return objects
