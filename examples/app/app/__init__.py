"""A small self-aware web service built on podself: it knows its pod, sizes its request threads
from its limits and follows its labels and annotations live, with no API-server call."""

from __future__ import annotations

__all__: list[str] = []
