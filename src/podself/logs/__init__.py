"""Logs and telemetry that carry pod identity: stdlib ``logging``, structlog and OpenTelemetry.

>>> import podself.logs
>>> podself.logs.configure()          # JSON lines with pod, namespace, node on stdout

Not imported by ``import podself``; structlog and the OpenTelemetry SDK are optional and
imported only by the functions that need them.
"""

from __future__ import annotations

from podself.logs._structlog import PodIdentityProcessor, add_pod_identity, structlog_processors
from podself.logs.fields import (
    NEVER_LOGGED,
    PRESETS,
    SECRET_PATTERNS,
    Preset,
    identity_fields,
    is_secret_like,
)
from podself.logs.live import LevelFollower, parse_level
from podself.logs.otel import (
    encode_resource_attributes,
    otel_attributes,
    otel_resource,
    otel_resource_attributes,
)
from podself.logs.stdlib import (
    JsonFormatter,
    LogSetup,
    PodIdentityFilter,
    configure,
    follow_level,
)

__all__ = [
    "NEVER_LOGGED",
    "PRESETS",
    "SECRET_PATTERNS",
    "JsonFormatter",
    "LevelFollower",
    "LogSetup",
    "PodIdentityFilter",
    "PodIdentityProcessor",
    "Preset",
    "add_pod_identity",
    "configure",
    "encode_resource_attributes",
    "follow_level",
    "identity_fields",
    "is_secret_like",
    "otel_attributes",
    "otel_resource",
    "otel_resource_attributes",
    "parse_level",
    "structlog_processors",
]
