"""Immutable value objects without ``dataclasses``.

``import dataclasses`` costs about 12 ms, more than podself's whole start-up budget, so the
runtime's value objects use ``__slots__`` and this small base instead: immutable after
``__init__``, compared and hashed by value, with a readable ``repr``.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["Record"]


class Record:
    """Base of podself's frozen value objects; subclasses list their fields in ``__slots__``."""

    __slots__ = ()

    def _init(self, **values: object) -> None:
        for name, value in values.items():
            object.__setattr__(self, name, value)

    @classmethod
    def _fields(cls) -> tuple[str, ...]:
        names: list[str] = []
        for klass in reversed(cls.__mro__):
            names.extend(klass.__dict__.get("__slots__", ()))
        return tuple(names)

    def _items(self) -> Iterator[tuple[str, object]]:
        for name in self._fields():
            yield name, getattr(self, name)

    def __setattr__(self, name: str, value: object) -> None:
        msg = f"{type(self).__name__} is immutable: cannot set {name!r}"
        raise AttributeError(msg)

    def __delattr__(self, name: str) -> None:
        msg = f"{type(self).__name__} is immutable: cannot delete {name!r}"
        raise AttributeError(msg)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self._fields())

    def __hash__(self) -> int:
        return hash((type(self), *(_hashable(v) for _, v in self._items())))

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}={v!r}" for n, v in self._items())
        return f"{type(self).__name__}({inner})"


def _hashable(value: object) -> object:
    if isinstance(value, dict) or type(value).__name__ == "mappingproxy":
        return tuple(sorted(value.items()))  # type: ignore[attr-defined]
    return value
