"""A pod's volumes (``ValidateVolumes``), with the files they write and ``projected`` sources.

Every volume's name and the one-volume-type rule; in full the sources podself reads:
``downwardAPI``, ``secret``, ``configMap``, ``hostPath`` and ``projected`` (its ``secret``,
``configMap``, ``downwardAPI``, ``serviceAccountToken``, ``clusterTrustBundle`` and
``podCertificate`` sources), with their item paths, file modes and unique paths. The path rules
also check a ``volumeMount``'s ``subPath``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from podself.downward import byte_len, go_lower, go_quote
from podself.validation.decode import (
    DOWNWARD_FILE_FIELDS,
    DOWNWARD_PROJECTION_FIELDS,
    DOWNWARD_VOLUME_FIELDS,
    unknown_field,
    unknown_keys,
)
from podself.validation.fields import (
    DUPLICATE,
    FORBIDDEN,
    INVALID,
    NOT_SUPPORTED,
    REQUIRED,
    TOO_LONG,
    FieldError,
    is_list,
    is_map,
    list_element,
    read_int32,
    read_string,
    supported_values,
    type_error,
)
from podself.validation.metadata import TOTAL_ANNOTATION_SIZE
from podself.validation.names import (
    dns1123_label_errors,
    dns1123_subdomain_errors,
    qualified_key_errors,
)
from podself.validation.releases import kubernetes_target, target_minor
from podself.validation.selectors import (
    VOLUME_PATHS,
    VOLUME_PATHS_DETAIL,
    object_field_selector,
    resource_field_selector,
)

# --- the files a volume writes: item paths, modes, downwardAPI files, keys ------------------------

_FILE_MODE_MSG: Final = "must be a number between 0 and 0777 (octal), both inclusive"
_MAX_MODE: Final = 0o777

_BOTH_REFS_MSG: Final = "fieldRef and resourceFieldRef can not be specified simultaneously"
_NO_REF_MSG: Final = "one of fieldRef and resourceFieldRef is required"


def _check_mode(obj: Mapping[str, Any], key: str, field: str, errs: list[FieldError]) -> None:
    mode = read_int32(obj, key, field, errs)
    if mode is not None and not 0 <= mode <= _MAX_MODE:
        errs.append(FieldError(INVALID, f"{field}.{key}", mode, _FILE_MODE_MSG))


def local_descending_path(path: str, field: str, errs: list[FieldError]) -> None:
    # validateLocalDescendingPath: relative, and no ".." element (one error however many).
    if path.startswith("/"):
        errs.append(FieldError(INVALID, field, path, "must be a relative path"))
    if ".." in path and ".." in path.split("/"):
        errs.append(FieldError(INVALID, field, path, "must not contain '..'"))


def _local_non_reserved_path(path: str, field: str, errs: list[FieldError]) -> None:
    # ValidateLocalNonReservedPath = validateLocalDescendingPath + the AtomicWriter's ".." prefix.
    local_descending_path(path, field, errs)
    if path.startswith("..") and not path.startswith("../"):
        errs.append(FieldError(INVALID, field, path, "must not start with '..'"))


def _downward_api_file(
    item: Mapping[str, Any], field: str, errs: list[FieldError], defaults: bool
) -> str:
    # validateDownwardAPIVolumeFile; errors sit at the downwardAPI path itself, no items[i].
    path = read_string(item, "path", field, errs)
    if path == "":
        errs.append(FieldError(REQUIRED, f"{field}.path"))
    elif path is not None:
        _local_non_reserved_path(path, f"{field}.path", errs)
    field_ref = item.get("fieldRef")
    resource_ref = item.get("resourceFieldRef")
    if field_ref is not None:
        if is_map(field_ref):
            object_field_selector(
                field_ref,
                VOLUME_PATHS,
                VOLUME_PATHS_DETAIL,
                f"{field}.fieldRef",
                errs,
                defaults=defaults,
            )
        else:
            errs.append(type_error(f"{field}.fieldRef", field_ref, "object"))
        if resource_ref is not None:
            errs.append(FieldError(INVALID, field, "resource", _BOTH_REFS_MSG))
    elif resource_ref is not None:
        if is_map(resource_ref):
            resource_field_selector(resource_ref, f"{field}.resourceFieldRef", errs, volume=True)
        else:
            errs.append(type_error(f"{field}.resourceFieldRef", resource_ref, "object"))
    else:
        errs.append(FieldError(REQUIRED, field, None, _NO_REF_MSG))
    _check_mode(item, "mode", field, errs)
    return path or ""


def _items(source: Mapping[str, Any], field: str, errs: list[FieldError]) -> Sequence[Any]:
    items = source.get("items")
    if items is None:
        return ()
    if not is_list(items):
        errs.append(type_error(f"{field}.items", items, "array"))
        return ()
    assert isinstance(items, (list, tuple))
    return items


def _key_to_path(item: Mapping[str, Any], field: str, errs: list[FieldError]) -> str:
    # validateKeyToPath, for secret and configMap projections.
    key = read_string(item, "key", field, errs)
    if key == "":
        errs.append(FieldError(REQUIRED, f"{field}.key"))
    path = read_string(item, "path", field, errs)
    if path == "":
        errs.append(FieldError(REQUIRED, f"{field}.path"))
    if path is not None:
        _local_non_reserved_path(path, f"{field}.path", errs)
    _check_mode(item, "mode", field, errs)
    return path or ""


# --- projected volumes ----------------------------------------------------------------------------

_DUPLICATE_PATHS_MSG: Final = "conflicting duplicate paths"
# Since Kubernetes 1.31; 1.30 and older said _VOLUME_KINDS_MSG here too.
_SOURCE_KINDS_MSG: Final = "may not specify more than 1 volume type per source"
_VOLUME_KINDS_MSG: Final = "may not specify more than 1 volume type"


def _projection_sources(
    projected: Mapping[str, Any], field: str, errs: list[FieldError], defaults: bool
) -> None:
    # validateProjectionSources: one kind per source, paths unique across every source.
    sources = projected.get("sources")
    if sources is None:
        return
    if not is_list(sources):
        errs.append(type_error(f"{field}.sources", sources, "array"))
        return
    assert isinstance(sources, (list, tuple))
    seen: set[str] = set()

    def claim(path: str, bad_value: object) -> None:
        if path in seen:
            errs.append(FieldError(INVALID, field, bad_value, _DUPLICATE_PATHS_MSG))
        else:
            seen.add(path)

    for index, element in enumerate(sources):
        src = f"{field}.sources[{index}]"
        source = list_element(element)
        if not is_map(source):
            errs.append(type_error(src, source, "object"))
            continue
        kinds = 0
        for kind in ("secret", "configMap"):
            ref = source.get(kind)
            if ref is None:
                continue
            kinds += 1
            child = f"{src}.{kind}"
            if not is_map(ref):
                errs.append(type_error(child, ref, "object"))
                continue
            name = read_string(ref, "name", child, errs)
            if name == "":
                errs.append(FieldError(REQUIRED, f"{child}.name"))
            for position, entry in enumerate(_items(ref, child, errs)):
                item_field = f"{child}.items[{position}]"
                item = list_element(entry)
                if not is_map(item):
                    errs.append(type_error(item_field, item, "object"))
                    continue
                path = _key_to_path(item, item_field, errs)
                if path:
                    # Kubernetes reports the secret/configMap name here, not the path.
                    claim(path, name or "")
        downward = source.get("downwardAPI")
        if downward is not None:
            kinds += 1
            child = f"{src}.downwardAPI"
            if not is_map(downward):
                errs.append(type_error(child, downward, "object"))
            elif not unknown_keys(downward, DOWNWARD_PROJECTION_FIELDS, child, errs):
                for position, entry in enumerate(_items(downward, child, errs)):
                    item = list_element(entry)
                    if not is_map(item):
                        errs.append(type_error(f"{child}.items", item, "object"))
                        continue
                    item_field = f"{child}.items[{position}]"
                    if unknown_keys(item, DOWNWARD_FILE_FIELDS, item_field, errs):
                        continue
                    path = _downward_api_file(item, child, errs, defaults)
                    if path:
                        claim(path, path)
        token = source.get("serviceAccountToken")
        if token is not None:
            kinds += 1
            child = f"{src}.serviceAccountToken"
            if not is_map(token):
                errs.append(type_error(child, token, "object"))
            else:
                _service_account_token(token, child, field, errs, defaults)
        bundle = source.get("clusterTrustBundle")
        if bundle is not None:
            kinds += 1
            child = f"{src}.clusterTrustBundle"
            if not is_map(bundle):
                errs.append(type_error(child, bundle, "object"))
            else:
                # Claimed even when empty, as Kubernetes does.
                bundle_path = _cluster_trust_bundle(bundle, child, errs)
                if bundle_path is not None:
                    claim(bundle_path, bundle_path)
        if target_minor() < 34:
            unknown_field(source, "podCertificate", src, errs)
        elif source.get("podCertificate") is not None:
            kinds += 1
            child = f"{src}.podCertificate"
            certificate = source["podCertificate"]
            if not is_map(certificate):
                errs.append(type_error(child, certificate, "object"))
            else:
                _pod_certificate(certificate, child, errs, claim)
        if kinds > 1:
            # 1.30 still said "may not specify more than 1 volume type" here.
            message = _SOURCE_KINDS_MSG if target_minor() >= 31 else _VOLUME_KINDS_MSG
            errs.append(FieldError(FORBIDDEN, src, None, message))


def _service_account_token(
    token: Mapping[str, Any],
    field: str,
    projected_field: str,
    errs: list[FieldError],
    defaults: bool,
) -> None:
    value = token.get("expirationSeconds")
    if value is None:
        seconds = 3600 if defaults else 0  # SetDefaults_ServiceAccountTokenProjection
    elif isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    else:
        errs.append(type_error(f"{field}.expirationSeconds", value, "integer"))
        seconds = 3600
    if seconds < 10 * 60:
        errs.append(
            FieldError(
                INVALID,
                f"{field}.expirationSeconds",
                seconds,
                "may not specify a duration less than 10 minutes",
            )
        )
    if seconds > 1 << 32:
        errs.append(
            FieldError(
                INVALID,
                f"{field}.expirationSeconds",
                seconds,
                "may not specify a duration larger than 2^32 seconds",
            )
        )
    # Kubernetes reports the token path at the projected volume, not at the source.
    path = read_string(token, "path", field, errs)
    if path == "":
        errs.append(FieldError(REQUIRED, f"{projected_field}.path"))
    elif path is not None:
        _local_non_reserved_path(path, f"{projected_field}.path", errs)


def _cluster_trust_bundle(
    bundle: Mapping[str, Any], field: str, errs: list[FieldError]
) -> str | None:
    # The selection rules; name and signer-name formats are not reproduced.
    name = bundle.get("name")
    signer = bundle.get("signerName")
    if name is None and signer is None:
        errs.append(
            FieldError(REQUIRED, field, None, "either name or signerName must be specified")
        )
    elif name is not None and signer is not None:
        errs.append(
            FieldError(INVALID, field, dict(bundle), "only one of name and signerName may be used")
        )
    elif name == "":
        errs.append(FieldError(REQUIRED, f"{field}.name", None, "must be a valid object name"))
    elif signer == "":
        errs.append(
            FieldError(REQUIRED, f"{field}.signerName", None, "must be a valid signer name")
        )
    path = read_string(bundle, "path", field, errs)
    if path is None:
        return None
    if path == "":
        errs.append(FieldError(REQUIRED, f"{field}.path"))
    _local_non_reserved_path(path, f"{field}.path", errs)
    return path


_KEY_TYPES: Final = ("RSA3072", "RSA4096", "ECDSAP256", "ECDSAP384", "ECDSAP521", "ED25519")
# certificates.MaxMaxExpirationSeconds (91 days) and KubernetesMaxMaxExpirationSeconds (24 h).
_MAX_EXPIRATION: Final = 91 * 24 * 60 * 60
_KUBERNETES_MAX_EXPIRATION: Final = 24 * 60 * 60


def _signer_name_errors(field: str, signer: str) -> list[FieldError]:
    # ValidateSignerName: "<domain>/<path>", the domain a dotted run of DNS-1123 labels.
    if not signer:
        return [FieldError(REQUIRED, field)]
    segments = signer.split("/")
    if len(segments) != 2:
        return [
            FieldError(
                INVALID,
                field,
                signer,
                "must be a fully qualified domain and path of the form 'example.com/signer-name'",
            )
        ]
    domain, path = segments
    errs = []
    if byte_len(domain) > 253:
        errs.append(FieldError(TOO_LONG, field, None, "may not be more than 253 bytes"))
    labels = domain.split(".")
    for label in labels:
        messages = dns1123_label_errors(label)
        if messages:
            errs.extend(
                FieldError(INVALID, field, domain, f"validating label {go_quote(label)}: {msg}")
                for msg in messages
            )
            break
    if len(labels) < 2:
        errs.append(
            FieldError(
                INVALID,
                field,
                domain,
                "should be a domain with at least two segments separated by dots",
            )
        )
    for label in path.split("."):
        messages = dns1123_subdomain_errors(label)
        if messages:
            errs.extend(
                FieldError(INVALID, field, path, f"validating label {go_quote(label)}: {msg}")
                for msg in messages
            )
            break
    limit = 253 + 253 + 63 + 1 + 1
    if byte_len(signer) > limit:
        errs.append(FieldError(TOO_LONG, field, None, f"may not be more than {limit} bytes"))
    return errs


def _user_annotations(annotations: object, field: str, errs: list[FieldError]) -> None:
    # ValidateUserAnnotations (1.35+): domain-prefixed keys (checked lowercased), 256 KiB total.
    if not is_map(annotations):
        errs.append(type_error(field, annotations, "object"))
        return
    assert isinstance(annotations, Mapping)
    size = 0
    for key, value in annotations.items():
        if not isinstance(key, str) or not isinstance(value, str):
            errs.append(type_error(field, value, "string"))
            continue
        size += byte_len(key) + byte_len(value)
        lowered = go_lower(key)
        if not lowered:
            errs.append(FieldError(REQUIRED, field))
            continue
        messages = qualified_key_errors(lowered)
        errs.extend(FieldError(INVALID, field, lowered, msg) for msg in messages)
        if not messages and lowered.count("/") != 1:
            errs.append(
                FieldError(
                    INVALID,
                    field,
                    lowered,
                    'must be a domain-prefixed key (such as "acme.io/foo")',
                )
            )
    if size > TOTAL_ANNOTATION_SIZE:
        errs.append(
            FieldError(TOO_LONG, field, None, f"may not be more than {TOTAL_ANNOTATION_SIZE} bytes")
        )


def _pod_certificate(
    certificate: Mapping[str, Any],
    field: str,
    errs: list[FieldError],
    claim: Callable[[str, object], None],
) -> None:
    # validateProjectionSources' podCertificate branch (1.34+).
    signer = read_string(certificate, "signerName", field, errs)
    if signer is not None:
        errs.extend(_signer_name_errors(f"{field}.signerName", signer))
    if target_minor() < 35:
        unknown_field(certificate, "userAnnotations", field, errs)
    elif certificate.get("userAnnotations") is not None:
        _user_annotations(certificate["userAnnotations"], f"{field}.userAnnotations", errs)
    key_type = read_string(certificate, "keyType", field, errs)
    if key_type is not None and key_type not in _KEY_TYPES:
        # field.NotSupported keeps the list's own order here (no sorted set).
        detail = "supported values: " + ", ".join(go_quote(k) for k in _KEY_TYPES)
        errs.append(FieldError(NOT_SUPPORTED, f"{field}.keyType", key_type, detail))
    seconds = read_int32(certificate, "maxExpirationSeconds", field, errs)
    if seconds is not None:
        where = f"{field}.maxExpirationSeconds"
        if seconds < 3600:
            errs.append(
                FieldError(
                    INVALID, where, seconds, "if provided, maxExpirationSeconds must be >= 3600"
                )
            )
        host = (signer or "").partition("/")[0]
        kubernetes = host == "kubernetes.io" or host.endswith(".kubernetes.io")
        limit = _KUBERNETES_MAX_EXPIRATION if kubernetes else _MAX_EXPIRATION
        if seconds > limit:
            errs.append(
                FieldError(
                    INVALID, where, seconds, f"if provided, maxExpirationSeconds must be <= {limit}"
                )
            )
    paths = 0
    for key in ("credentialBundlePath", "keyPath", "certificateChainPath"):
        path = read_string(certificate, key, field, errs)
        if path:
            paths += 1
            _local_non_reserved_path(path, f"{field}.{key}", errs)
            claim(path, path)
    if paths == 0:
        errs.append(
            FieldError(
                REQUIRED,
                field,
                None,
                "specify at least one of credentialBundlePath, keyPath, and certificateChainPath",
            )
        )


def _projected_volume(
    projected: Mapping[str, Any], field: str, errs: list[FieldError], defaults: bool
) -> None:
    # validateProjectedVolumeSource
    _check_mode(projected, "defaultMode", field, errs)
    _projection_sources(projected, field, errs, defaults)


# --- volumes --------------------------------------------------------------------------------------

_NO_VOLUME_KIND_MSG: Final = "must specify a volume type"

# validateVolumeSource checks the kinds in this order; the first one set is "the" type and
# every later one is Forbidden at the child name Kubernetes uses (note its "downwarAPI" typo).
_VOLUME_KINDS: Final = (
    ("emptyDir", "emptyDir"),
    ("hostPath", "hostPath"),
    ("gitRepo", "gitRepo"),
    ("gcePersistentDisk", "gcePersistentDisk"),
    ("awsElasticBlockStore", "awsElasticBlockStore"),
    ("secret", "secret"),
    ("nfs", "nfs"),
    ("iscsi", "iscsi"),
    ("glusterfs", "glusterfs"),
    ("flocker", "flocker"),
    ("persistentVolumeClaim", "persistentVolumeClaim"),
    ("rbd", "rbd"),
    ("cinder", "cinder"),
    ("cephfs", "cephFS"),
    ("quobyte", "quobyte"),
    ("downwardAPI", "downwarAPI"),
    ("fc", "fc"),
    ("flexVolume", "flexVolume"),
    ("configMap", "configMap"),
    ("azureFile", "azureFile"),
    ("vsphereVolume", "vsphereVolume"),
    ("photonPersistentDisk", "photonPersistentDisk"),
    ("portworxVolume", "portworxVolume"),
    ("azureDisk", "azureDisk"),
    ("storageos", "storageos"),
    ("projected", "projected"),
    ("scaleIO", "scaleIO"),
    ("csi", "csi"),
    ("ephemeral", "ephemeral"),
    ("image", "image"),
)


def _downward_api_volume(
    source: Mapping[str, Any], field: str, errs: list[FieldError], defaults: bool
) -> None:
    # validateDownwardAPIVolumeSource: no duplicate-path check (the last item wins at run time).
    if unknown_keys(source, DOWNWARD_VOLUME_FIELDS, field, errs):
        return
    _check_mode(source, "defaultMode", field, errs)
    for index, element in enumerate(_items(source, field, errs)):
        item = list_element(element)
        if not is_map(item):
            errs.append(type_error(f"{field}.items", item, "object"))
        elif not unknown_keys(item, DOWNWARD_FILE_FIELDS, f"{field}.items[{index}]", errs):
            _downward_api_file(item, field, errs, defaults)


def _key_to_path_items(source: Mapping[str, Any], field: str, errs: list[FieldError]) -> None:
    for position, entry in enumerate(_items(source, field, errs)):
        item_field = f"{field}.items[{position}]"
        item = list_element(entry)
        if is_map(item):
            _key_to_path(item, item_field, errs)
        else:
            errs.append(type_error(item_field, item, "object"))


def _secret_volume(
    source: Mapping[str, Any], field: str, errs: list[FieldError], defaults: bool
) -> None:
    # validateSecretVolumeSource
    if read_string(source, "secretName", field, errs) == "":
        errs.append(FieldError(REQUIRED, f"{field}.secretName"))
    _check_mode(source, "defaultMode", field, errs)
    _key_to_path_items(source, field, errs)


def _config_map_volume(
    source: Mapping[str, Any], field: str, errs: list[FieldError], defaults: bool
) -> None:
    # validateConfigMapVolumeSource
    if read_string(source, "name", field, errs) == "":
        errs.append(FieldError(REQUIRED, f"{field}.name"))
    _check_mode(source, "defaultMode", field, errs)
    _key_to_path_items(source, field, errs)


_HOST_PATH_TYPES: Final = (
    "",
    "BlockDevice",
    "CharDevice",
    "Directory",
    "DirectoryOrCreate",
    "File",
    "FileOrCreate",
    "Socket",
)


def _host_path_volume(
    source: Mapping[str, Any], field: str, errs: list[FieldError], defaults: bool
) -> None:
    # validateHostPathVolumeSource: the node's own path, but never with a ".." element.
    path = read_string(source, "path", field, errs)
    if path == "":
        errs.append(FieldError(REQUIRED, f"{field}.path"))
        return
    if path is not None and ".." in path.split("/"):
        errs.append(FieldError(INVALID, f"{field}.path", path, "must not contain '..'"))
    kind = source.get("type")
    if kind is not None:
        value = read_string(source, "type", field, errs)
        if value is not None and value not in _HOST_PATH_TYPES:
            errs.append(
                FieldError(
                    NOT_SUPPORTED, f"{field}.type", value, supported_values(_HOST_PATH_TYPES)
                )
            )


# The volume sources whose own fields are validated; the others only count as "a volume type".
_VOLUME_SOURCES: Final = {
    "hostPath": _host_path_volume,
    "secret": _secret_volume,
    "downwardAPI": _downward_api_volume,
    "configMap": _config_map_volume,
    "projected": _projected_volume,
}


def _validate_volume_into(
    volume: object, path: str, errs: list[FieldError], defaults: bool
) -> str | None:
    """Append the volume's errors and return its name (None when it is not a string)."""
    if not is_map(volume):
        errs.append(type_error(path, volume, "object"))
        return None
    assert isinstance(volume, Mapping)
    kinds = 0
    for key, child_name in _VOLUME_KINDS:
        source = volume.get(key)
        if source is None or (
            key == "image" and target_minor() < 31 and unknown_field(volume, key, path, errs)
        ):
            continue  # image volumes exist from 1.31
        if kinds:
            errs.append(FieldError(FORBIDDEN, f"{path}.{child_name}", None, _VOLUME_KINDS_MSG))
            continue
        kinds += 1
        check = _VOLUME_SOURCES.get(key)
        if check is None:
            continue
        if is_map(source):
            check(source, f"{path}.{key}", errs, defaults)
        else:
            errs.append(type_error(f"{path}.{key}", source, "object"))
    if not kinds:
        errs.append(FieldError(REQUIRED, path, None, _NO_VOLUME_KIND_MSG))
    name = read_string(volume, "name", path, errs)
    if name == "":
        errs.append(FieldError(REQUIRED, f"{path}.name"))
    elif name is not None:
        errs.extend(
            FieldError(INVALID, f"{path}.name", name, msg) for msg in dns1123_label_errors(name)
        )
    return name


def validate_volume(
    volume: Mapping[str, Any],
    path: str,
    *,
    apply_defaults: bool = True,
    kubernetes_version: str | None = None,
) -> list[FieldError]:
    """Validate one pod volume as ``ValidateVolumes`` does, at ``path`` (e.g. ``spec.volumes[0]``).

    ``downwardAPI``, ``projected``, ``secret``, ``configMap`` and ``hostPath`` sources are
    validated fully (item paths, keys, modes, no ``..`` in a host path); for every volume the
    name and the one-volume-type rule are checked, other sources' own fields are not.
    ``kubernetes_version`` picks the release's rules (see :func:`validate_env`).
    """
    with kubernetes_target(kubernetes_version):
        errs: list[FieldError] = []
        _validate_volume_into(volume, path, errs, apply_defaults)
        return errs


def validate_volumes_into(
    spec: Mapping[str, Any], path: str, errs: list[FieldError], defaults: bool
) -> dict[str, Mapping[str, Any]]:
    """ValidateVolumes: append the errors, return the volumes that claimed their names."""
    claimed: dict[str, Mapping[str, Any]] = {}
    volumes = spec.get("volumes")
    if volumes is None:
        return claimed
    if not is_list(volumes):
        errs.append(type_error(f"{path}.volumes", volumes, "array"))
        return claimed
    for index, element in enumerate(volumes):
        vol_path = f"{path}.volumes[{index}]"
        volume = list_element(element)
        start = len(errs)
        name = _validate_volume_into(volume, vol_path, errs, defaults)
        if name is not None and name in claimed:
            errs.append(FieldError(DUPLICATE, f"{vol_path}.name", name))
        # Only a volume without errors claims its name (a mount of any other is "Not found").
        if name is not None and len(errs) == start:
            claimed[name] = volume
    return claimed
