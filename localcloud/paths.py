"""Paths built from request data (names, channels, image tags, S3 keys) stay inside their folder."""

from __future__ import annotations

from pathlib import Path


class PathEscapes(ValueError):
    """A path built from request data would leave the folder it belongs in."""


def inside(base: Path, *parts: str) -> Path:
    """`base/part/...`, resolved (symlinks too), refused unless strictly inside `base`.

    The one way the local cloud joins a request's words onto a folder: `..`, absolute parts,
    empty names and symlinks out of the folder all raise PathEscapes.
    """
    root = Path(base).resolve()
    candidate = root.joinpath(*parts).resolve()
    if candidate == root or root not in candidate.parents:
        raise PathEscapes(f"{'/'.join(parts)!r} is not a name inside {base}")
    return candidate
