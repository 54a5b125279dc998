"""One ``admission.k8s.io/v1`` AdmissionReview in, one out: the decision, apart from HTTP.

A Pod CREATE that opted in gets ``allowed: true`` with a base64 JSONPatch of what ``podself
inject`` would add; everything else gets ``allowed: true`` and no patch. Nothing here rejects a
pod: what was left as is, and why, goes to ``warnings`` (bounded as the API server bounds them),
and an unexpected failure answers ``allowed: true`` too. Only a review without a ``uid`` (which
no answer could name) is refused, with HTTP 400.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from podself.manifest.inject import InjectOptions
from podself.manifest.inject.patch import json_patch, pointer
from podself.manifest.report import printable

__all__ = [
    "API_VERSION",
    "INJECTED_ANNOTATION",
    "INJECT_KEY",
    "MAX_OBJECT_BYTES",
    "MAX_WARNINGS",
    "MAX_WARNING_RUNES",
    "Answer",
    "review",
]

API_VERSION: Final = "admission.k8s.io/v1"
# v1beta1 has the same request and response fields; the answer names the version asked for.
_VERSIONS: Final = frozenset({API_VERSION, "admission.k8s.io/v1beta1"})
# A namespace label and a pod annotation: "true" opts in, "false" opts out.
INJECT_KEY: Final = "podself.dev/inject"
INJECTED_ANNOTATION: Final = "podself.dev/injected"  # set on the pods this webhook patched

# The API server cuts each warning at 256 runes and drops what passes 4096 runes in all, from
# every webhook of the request (k8s.io/apiserver filters/warning.go): stay well inside both.
MAX_WARNING_RUNES: Final = 256
MAX_WARNINGS: Final = 10
_MAX_WARNINGS_TOTAL: Final = 2048
_PREFIX: Final = "podself: "
# etcd's default --max-request-bytes: a pod the patch would take past it could not be stored,
# so it is left as it is. The review's JSON (the pod and a little more) bounds the pod's size.
MAX_OBJECT_BYTES: Final = 1536 * 1024

_log = logging.getLogger("podself.webhook")


@dataclass(frozen=True, slots=True)
class Answer:
    """The HTTP answer to one review and what it was, for the metrics.

    ``outcome`` is ``patched``, ``unchanged`` (opted in, nothing to add), ``skipped`` (not a
    Pod CREATE, opted out or not opted in), ``error`` (an unexpected failure, answered
    ``allowed: true``) or ``invalid`` (HTTP 400: no ``uid``, or no review at all).
    """

    status: int
    body: bytes
    outcome: str
    operations: int = 0


class _Invalid(Exception):
    """The body is not an AdmissionReview this server can answer."""


def _bounded(warnings: list[str]) -> list[str]:
    """One line each, printable, at most :data:`MAX_WARNING_RUNES` runes and
    :data:`MAX_WARNINGS` in all (the last one says how many more there were)."""
    out: list[str] = []
    total = 0
    for index, text in enumerate(warnings):
        line = printable(_PREFIX + text).encode("utf-8", "replace").decode("utf-8")
        if len(line) > MAX_WARNING_RUNES:
            line = line[: MAX_WARNING_RUNES - 1] + "…"
        rest = len(warnings) - index
        if rest > 1 and (len(out) == MAX_WARNINGS - 1 or total + len(line) > _MAX_WARNINGS_TOTAL):
            out.append(
                f"{_PREFIX}{rest} more notes; run podself inject on the manifest to see them"
            )
            break
        out.append(line)
        total += len(line)
    return out


def _encode(api_version: str, response: Mapping[str, Any]) -> bytes:
    review = {"apiVersion": api_version, "kind": "AdmissionReview", "response": response}
    return json.dumps(review, separators=(",", ":")).encode("utf-8")


def _allow(
    api_version: str,
    uid: str,
    outcome: str,
    warnings: list[str],
    *,
    patch: bytes | None = None,
    operations: int = 0,
) -> Answer:
    response: dict[str, Any] = {"uid": uid, "allowed": True}
    if patch:
        response["patchType"] = "JSONPatch"
        response["patch"] = base64.b64encode(patch).decode("ascii")
    bounded = _bounded(warnings)
    if bounded:
        response["warnings"] = bounded
    return Answer(200, _encode(api_version, response), outcome, operations)


def _invalid(message: str) -> Answer:
    return Answer(400, (printable(message) + "\n").encode("utf-8"), "invalid")


def _request(body: bytes) -> tuple[str, str, Mapping[str, Any]]:
    """``(apiVersion, uid, request)`` of a review; raises :class:`_Invalid` saying why not."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:
        msg = f"body: not JSON ({exc.__class__.__name__})"
        raise _Invalid(msg) from None
    if not isinstance(document, dict):
        msg = f"body: an AdmissionReview is a JSON object, not {type(document).__name__}"
        raise _Invalid(msg)
    request = document.get("request")
    if not isinstance(request, dict):
        msg = "request: required (an object) in an AdmissionReview"
        raise _Invalid(msg)
    uid = request.get("uid")
    if not isinstance(uid, str) or not uid:
        msg = "request.uid: required (a non-empty string) to answer the review"
        raise _Invalid(msg)
    api_version = document.get("apiVersion")
    known = api_version in _VERSIONS and document.get("kind") == "AdmissionReview"
    return (str(api_version) if known else "", uid, request)


def _opt_in(annotations: object, require_annotation: bool) -> tuple[bool, list[str]]:
    """Whether to inject, from the pod's ``podself.dev/inject`` annotation."""
    value = annotations.get(INJECT_KEY) if isinstance(annotations, dict) else None
    if value == "false":
        return False, []
    if value is None or value == "true":
        return value == "true" or not require_annotation, []
    note = (
        f'metadata.annotations["{INJECT_KEY}"]: {str(value)[:40]!r} is neither "true" nor "false"'
    )
    if require_annotation:
        return False, [note + "; not injected"]
    return True, [note + "; injected as the namespace asks"]


def _decide(
    api_version: str,
    uid: str,
    request: Mapping[str, Any],
    options: InjectOptions,
    *,
    require_annotation: bool,
    size: int,
) -> Answer:
    if not api_version:
        return _allow(
            API_VERSION, uid, "skipped", [f"not an {API_VERSION} AdmissionReview; no change"]
        )
    kind = request.get("kind")
    is_pod = isinstance(kind, dict) and (kind.get("group"), kind.get("kind")) == ("", "Pod")
    # pods/ephemeralcontainers, pods/binding…: a sub-resource is not a new pod
    if not is_pod or request.get("subResource") or request.get("operation") != "CREATE":
        return _allow(api_version, uid, "skipped", [])
    pod = request.get("object")
    if not isinstance(pod, dict):
        return _allow(api_version, uid, "skipped", ["request.object: not a Pod object; no change"])
    metadata = pod.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    wanted, warnings = _opt_in(annotations, require_annotation)
    if not wanted:
        return _allow(api_version, uid, "skipped", warnings)
    # The API server's object names both; a review's kind is what counts.
    ops, notes = json_patch({**pod, "apiVersion": "v1", "kind": "Pod"}, options)
    warnings.extend(notes)
    if not ops:
        return _allow(api_version, uid, "unchanged", warnings)
    if not isinstance(metadata, dict):
        ops.append({"op": "add", "path": "/metadata", "value": {}})
    if isinstance(annotations, dict):
        path = pointer("metadata", "annotations", INJECTED_ANNOTATION)
        ops.append({"op": "add", "path": path, "value": "true"})
    else:
        value = {INJECTED_ANNOTATION: "true"}
        ops.append({"op": "add", "path": "/metadata/annotations", "value": value})
    patch = json.dumps(ops, separators=(",", ":")).encode("utf-8")
    if size + len(patch) > MAX_OBJECT_BYTES:
        warnings.insert(  # first: the notes may be many, and the list is cut
            0,
            f"the injected pod could pass the {MAX_OBJECT_BYTES} bytes etcd stores in one object "
            f"({size} bytes of review, {len(patch)} of patch); not injected",
        )
        return _allow(api_version, uid, "skipped", warnings)
    return _allow(api_version, uid, "patched", warnings, patch=patch, operations=len(ops))


def review(
    body: bytes, options: InjectOptions | None = None, *, require_annotation: bool = False
) -> Answer:
    """Answer one AdmissionReview ``body``; never raises.

    ``require_annotation`` is for pods whose namespace did not opt in: only a pod annotated
    ``podself.dev/inject: "true"`` is injected. Otherwise every Pod CREATE is, unless annotated
    ``podself.dev/inject: "false"``.
    """
    try:
        api_version, uid, request = _request(body)
    except _Invalid as exc:
        return _invalid(str(exc))
    try:
        options = options or InjectOptions()
        return _decide(
            api_version,
            uid,
            request,
            options,
            require_annotation=require_annotation,
            size=len(body),
        )
    except Exception:  # a pod is never blocked by a bug of ours
        _log.exception("review %s: failed; the pod is allowed unchanged", printable(uid[:64]))
        return _allow(
            api_version or API_VERSION,
            uid,
            "error",
            ["could not work out the injection (see the webhook's log); pod not changed"],
        )
