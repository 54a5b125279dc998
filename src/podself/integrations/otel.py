"""The OpenTelemetry SDK's resource detector for this pod, found by entry point: with
``OTEL_EXPERIMENTAL_RESOURCE_DETECTORS=podself`` the SDK (and ``opentelemetry-instrument``)
adds the pod's ``k8s.*``, ``container.id``, ``cloud.*`` and ``service.*`` attributes to every
span, metric and log record, with no code.

This module imports the SDK; only the SDK imports it (``import podself`` never does).

Options, for setups without code (comma-separated globs, as for logs; secret-like keys are
never added):

- ``PODSELF_OTEL_LABELS``: pod labels to add as ``k8s.pod.label.<key>`` (``*`` for all);
- ``PODSELF_OTEL_ANNOTATIONS``: pod annotations to add as ``k8s.pod.annotation.<key>``.
"""

from __future__ import annotations

import os

from opentelemetry.sdk.resources import Resource, ResourceDetector

from podself.logs.otel import otel_attributes, read_container_id

__all__ = ["PodResourceDetector"]


def _globs(name: str) -> list[str] | None:
    text = os.environ.get(name, "")
    globs = [item.strip() for item in text.split(",") if item.strip()]
    return globs or None


class PodResourceDetector(ResourceDetector):
    """``k8s.pod.*``, ``k8s.namespace.name``, ``k8s.node.name``, ``k8s.container.name``,
    ``k8s.<workload>.name``, ``container.id``, ``cloud.availability_zone``/``cloud.region``
    and ``service.name``/``namespace``/``version``/``instance.id``, as
    :func:`podself.logs.otel_attributes` derives them from ``podself.current()``.

    ``service.instance.id`` is one per process; the detector says it depends on the process,
    so SDKs that re-run such detectors after ``os.fork()`` (1.44 and later) give each
    pre-forked worker its own. Unknown values are left out; never raises.
    """

    def detect(self) -> Resource:
        """The pod's attributes as a ``Resource`` (not ``Resource.create``: the SDK merges)."""
        import podself

        attributes = otel_attributes(
            podself.current(),
            labels=_globs("PODSELF_OTEL_LABELS"),
            annotations=_globs("PODSELF_OTEL_ANNOTATIONS"),
            container_id=read_container_id(),
        )
        return Resource(attributes)

    def is_process_dependent(self) -> bool:
        """``True``: ``service.instance.id`` names the process (re-run after a fork)."""
        return True
