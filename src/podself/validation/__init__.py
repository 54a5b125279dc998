"""The API server's validation of Downward API usage, reproduced rule for rule.

Env vars (``fieldRef``, ``resourceFieldRef`` and the ``valueFrom`` rules around them),
``downwardAPI`` volumes and ``projected`` volumes give the same errors — field path, type, bad
value and detail — as ``pkg/apis/core/validation`` after v1 defaulting, for one Kubernetes
release at a time (1.30 to 1.35, default the latest; see :func:`kubernetes_target`).

Import from here; each module holds one part: ``fields`` (``FieldError``, reading a field as
the decoder does), ``releases`` (the target release), ``names`` (apimachinery's name rules),
``decode`` (unknown fields, decoding errors), ``selectors`` (``fieldRef``, ``resourceFieldRef``),
``env``, ``volumes`` (with their files and ``projected`` sources), ``containers``, ``pod`` (the
pod spec), ``metadata`` and ``config_objects`` (ConfigMap and Secret objects).
"""

from __future__ import annotations

from podself.downward import go_lower
from podself.validation.config_objects import validate_config_object
from podself.validation.decode import decode_error, known_fields
from podself.validation.env import validate_env
from podself.validation.fields import (
    DUPLICATE,
    FORBIDDEN,
    INVALID,
    NOT_FOUND,
    NOT_SUPPORTED,
    REQUIRED,
    TOO_LONG,
    TYPE_INVALID,
    UNKNOWN_FIELD,
    FieldError,
)
from podself.validation.metadata import (
    MAX_GENERATED_NAME_BASE,
    TOTAL_ANNOTATION_SIZE,
    validate_annotations,
    validate_labels,
    validate_metadata_maps,
    validate_object_meta,
)
from podself.validation.names import (
    dns1123_label_errors,
    dns1123_subdomain_errors,
    label_value_errors,
    name_is_dns_label,
    name_is_dns_subdomain,
    path_segment_errors,
)
from podself.validation.pod import validate_pod_spec, validate_pod_spec_downward
from podself.validation.releases import (
    DEFAULT_KUBERNETES_VERSION,
    SUPPORTED_KUBERNETES_VERSIONS,
    default_off_gate,
    kubernetes_target,
    kubernetes_target_version,
    parse_kubernetes_version,
)
from podself.validation.selectors import (
    api_quantity_string,
    convert_downward_api_field_label,
    quantity_decode_error,
)
from podself.validation.volumes import validate_volume

__all__ = [
    "DEFAULT_KUBERNETES_VERSION",
    "DUPLICATE",
    "FORBIDDEN",
    "INVALID",
    "MAX_GENERATED_NAME_BASE",
    "NOT_FOUND",
    "NOT_SUPPORTED",
    "REQUIRED",
    "SUPPORTED_KUBERNETES_VERSIONS",
    "TOO_LONG",
    "TOTAL_ANNOTATION_SIZE",
    "TYPE_INVALID",
    "UNKNOWN_FIELD",
    "FieldError",
    "api_quantity_string",
    "convert_downward_api_field_label",
    "decode_error",
    "default_off_gate",
    "dns1123_label_errors",
    "dns1123_subdomain_errors",
    "go_lower",
    "known_fields",
    "kubernetes_target",
    "kubernetes_target_version",
    "label_value_errors",
    "name_is_dns_label",
    "name_is_dns_subdomain",
    "parse_kubernetes_version",
    "path_segment_errors",
    "quantity_decode_error",
    "validate_annotations",
    "validate_config_object",
    "validate_env",
    "validate_labels",
    "validate_metadata_maps",
    "validate_object_meta",
    "validate_pod_spec",
    "validate_pod_spec_downward",
    "validate_volume",
]
