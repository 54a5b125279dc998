"""Safe loading of Kubernetes manifests (YAML streams, JSON) with a line and column per field.

Input size, alias expansion and nesting are bounded, and malformed input becomes a
:class:`LoadIssue` at file:line instead of an exception from deep inside a parser.

:mod:`.documents` holds what loading produces (documents, issues, limits); :mod:`.yamlscan`
and :mod:`.jsonscan` read each format; :mod:`.text` reads one input's text;
:mod:`.sources` reads files, stdin and pipes and searches folders.
"""

from __future__ import annotations

from podself.manifest.load.documents import (
    DEFAULT_LIMITS,
    Document,
    Limits,
    LoadIssue,
    TypedScalar,
    split_field_path,
    too_large,
    too_many_documents,
)
from podself.manifest.load.sources import (
    MANIFEST_SUFFIXES,
    MAX_FOLDER_DEPTH,
    STDIN,
    STDIN_NAME,
    discover,
    load_file,
    read_source,
    scan_file,
    source_name,
)
from podself.manifest.load.text import decode_input, load_documents, scan_documents
from podself.manifest.load.yamlscan import yaml_available

__all__ = [
    "DEFAULT_LIMITS",
    "MANIFEST_SUFFIXES",
    "MAX_FOLDER_DEPTH",
    "STDIN",
    "STDIN_NAME",
    "Document",
    "Limits",
    "LoadIssue",
    "TypedScalar",
    "decode_input",
    "discover",
    "load_documents",
    "load_file",
    "read_source",
    "scan_documents",
    "scan_file",
    "source_name",
    "split_field_path",
    "too_large",
    "too_many_documents",
    "yaml_available",
]
