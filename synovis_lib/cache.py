"""A small on-disk cache keyed by parameters, so every notebook runs on its own.

Notebook 06 needs the model notebook 05 trained; instead of depending on
05 having run, it asks the cache for "a model trained with these
parameters" and trains one if there is none. Keys are hashes of the
parameters (JSON, sorted), so the same parameters always find the same
artefact and different ones never collide.

The folder is ``$SYNOVIS_CACHE`` or ``~/.cache/synovis``. Building an entry
holds a lock on it (``filelock``), so notebooks run in parallel
(``synovis run-notebooks --jobs 2``) wait for one another's artefact instead
of each building it again.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from filelock import FileLock

from synovis_lib.files import _jsonable

ENV_VAR = "SYNOVIS_CACHE"
T = TypeVar("T")


def cache_dir() -> Path:
    """The cache root (``$SYNOVIS_CACHE`` or ``~/.cache/synovis``), created on demand."""
    root = Path(os.environ.get(ENV_VAR) or Path.home() / ".cache" / "synovis").expanduser()
    root.mkdir(parents=True, exist_ok=True)
    return root


def cache_key(params: Mapping[str, Any]) -> str:
    """A short, stable hash of ``params`` (order-independent)."""
    text = json.dumps(params, sort_keys=True, default=_jsonable)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cache_path(kind: str, params: Mapping[str, Any], suffix: str = "") -> Path:
    """Where the artefact of ``kind`` built from ``params`` lives."""
    return cache_dir() / kind / f"{cache_key(params)}{suffix}"


def cached(
    kind: str,
    params: Mapping[str, Any],
    build: Callable[[], T],
    save: Callable[[T, Path], None],
    load: Callable[[Path], T],
    suffix: str = "",
) -> T:
    """Load the artefact for ``params`` or build it, save it and return it.

    ``save`` must write atomically (see :mod:`synovis_lib.files`); a crash while
    building leaves no entry behind, so the next call simply builds again.
    """
    path = cache_path(kind, params, suffix)
    if path.exists():
        return load(path)
    with _building(path):
        if path.exists():  # another process built it while we waited
            return load(path)
        value = build()
        save(value, path)
    return value


def _building(path: Path) -> FileLock:
    """A lock held while the cache entry at ``path`` is built. Lock files live apart, in
    ``<cache>/.locks/`` (a lock file outlives its lock by design), so entry folders hold
    entries only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    locks = cache_dir() / ".locks"
    locks.mkdir(exist_ok=True)
    return FileLock(locks / f"{path.parent.name}.{path.name}.lock")
