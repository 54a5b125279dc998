"""Tests for podself.webhook.manifests: objects the API server's schemas and podself lint accept."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from podself.cli.printers import kubectl_yaml
from podself.manifest.lint import lint_text
from podself.webhook.certs import issue, service_dns_names
from podself.webhook.manifests import NAME, InstallOptions, render

# Releases whose schemas kubernetes-validate ships (offline), oldest and newest supported here.
RELEASES = ["1.32", "1.37"]
CRDS = {"Issuer", "Certificate"}  # cert-manager's: not in the Kubernetes schemas


@pytest.fixture(scope="module")
def certificates() -> dict[str, bytes]:
    made = issue(service_dns_names(NAME, "tools"))
    return {"ca.crt": made.ca_cert, "tls.crt": made.cert, "tls.key": made.key}


def _options(**kwargs: Any) -> InstallOptions:
    return InstallOptions(image="registry.example/podself:0.1.0", namespace="tools", **kwargs)


def _variants(certificates: dict[str, bytes]) -> list[InstallOptions]:
    return [
        _options(certificates=certificates),
        _options(cert_manager=True, annotated_pods=False, reinvocation="Never"),
    ]


def _by_kind(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {obj["kind"]: obj for obj in objects}


@pytest.mark.parametrize("release", RELEASES)
def test_every_object_validates_against_the_schemas(
    certificates: dict[str, bytes], release: str
) -> None:
    for options in _variants(certificates):
        for obj in render(options):
            if obj["kind"] not in CRDS:
                kubernetes_validate.validate(obj, release, strict=True)


def test_output_lints_clean(certificates: dict[str, bytes]) -> None:
    for options in _variants(certificates):
        text = "".join(f"---\n{kubectl_yaml(obj)}" for obj in render(options))
        findings = lint_text(text, "webhook.yaml")
        assert findings == []


def test_webhook_configuration(certificates: dict[str, bytes]) -> None:
    objects = _by_kind(render(_options(certificates=certificates)))
    config = objects["MutatingWebhookConfiguration"]
    by_namespace, by_annotation = config["webhooks"]
    for hook in (by_namespace, by_annotation):
        assert hook["failurePolicy"] == "Ignore"
        assert hook["sideEffects"] == "None"
        assert hook["timeoutSeconds"] == 5
        assert hook["reinvocationPolicy"] == "IfNeeded"
        assert hook["admissionReviewVersions"] == ["v1"]
        assert base64.b64decode(hook["clientConfig"]["caBundle"]) == certificates["ca.crt"]
        own = hook["namespaceSelector"]["matchExpressions"][-1]
        assert own["operator"] == "NotIn"
        assert "tools" in own["values"]
        assert "kube-system" in own["values"]
        assert hook["objectSelector"]["matchExpressions"] == [
            {"key": "app.kubernetes.io/name", "operator": "NotIn", "values": [NAME]}
        ]
    assert by_namespace["clientConfig"]["service"]["path"] == "/mutate"
    assert by_annotation["clientConfig"]["service"]["path"] == "/mutate/annotated"
    assert by_namespace["namespaceSelector"]["matchExpressions"][0] == {
        "key": "podself.dev/inject",
        "operator": "In",
        "values": ["true"],
    }
    assert "annotations" not in config["metadata"]


def test_deployment_pdb_service_and_secret(certificates: dict[str, bytes]) -> None:
    objects = _by_kind(render(_options(certificates=certificates)))
    deployment = objects["Deployment"]
    assert deployment["spec"]["replicas"] == 2
    template = deployment["spec"]["template"]
    assert template["metadata"]["labels"]["app.kubernetes.io/name"] == NAME
    (container,) = template["spec"]["containers"]
    assert container["args"][:4] == ["webhook", "serve", "--cert-dir", "/etc/podself-webhook/tls"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    pdb = objects["PodDisruptionBudget"]
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["selector"] == deployment["spec"]["selector"]
    assert objects["Service"]["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    secret = objects["Secret"]
    assert secret["type"] == "kubernetes.io/tls"
    assert base64.b64decode(secret["data"]["tls.key"]) == certificates["tls.key"]
    assert template["spec"]["volumes"][0]["secret"]["secretName"] == secret["metadata"]["name"]


def test_cert_manager_variant(certificates: dict[str, bytes]) -> None:
    objects = _by_kind(render(_variants(certificates)[1]))
    config = objects["MutatingWebhookConfiguration"]
    assert config["metadata"]["annotations"] == {"cert-manager.io/inject-ca-from": f"tools/{NAME}"}
    (hook,) = config["webhooks"]
    assert "caBundle" not in hook["clientConfig"]
    assert hook["reinvocationPolicy"] == "Never"
    assert "Secret" not in objects
    certificate = objects["Certificate"]
    assert certificate["spec"]["secretName"] == f"{NAME}-tls"
    assert f"{NAME}.tools.svc" in certificate["spec"]["dnsNames"]


def test_certificates_or_cert_manager_required(certificates: dict[str, bytes]) -> None:
    with pytest.raises(ValueError, match="certificates"):
        render(_options())


def test_rendered_file_round_trips(tmp_path: Path, certificates: dict[str, bytes]) -> None:
    """The YAML stream reads back as the same objects (what kubectl apply reads)."""
    import yaml

    objects = render(_options(certificates=certificates))
    text = "".join(f"---\n{kubectl_yaml(obj)}" for obj in objects)
    assert [d for d in yaml.safe_load_all(text) if d] == objects
