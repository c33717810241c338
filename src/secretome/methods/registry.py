"""The method kinds the system knows, by name."""

from __future__ import annotations

from secretome.methods.base import MethodKind

_KINDS: dict[str, MethodKind] = {}


def register(kind: MethodKind) -> MethodKind:
    """Add ``kind`` under its name (a second kind with the same name is a programming error)."""
    if kind.name in _KINDS and _KINDS[kind.name] is not kind:
        raise ValueError(f"method kind {kind.name!r} is registered twice")
    _KINDS[kind.name] = kind
    return kind


def get_kind(name: str) -> MethodKind:
    """The kind called ``name``; ``ValueError`` naming the known kinds otherwise."""
    _load_builtin_kinds()
    try:
        return _KINDS[name]
    except KeyError:
        known = ", ".join(sorted(_KINDS))
        raise ValueError(f"kind: {name!r} is not an analysis method kind (known: {known})") from None


def kind_names() -> list[str]:
    _load_builtin_kinds()
    return sorted(_KINDS)


def _load_builtin_kinds() -> None:
    # Each kind module registers itself on import; importing them here (not at module top) keeps the
    # registry importable by the kinds themselves.
    from secretome.methods import kinds  # noqa: F401
