"""A small on-disk cache keyed by parameters, so every notebook runs on its own.

Notebook 06 needs the model notebook 05 trained; instead of depending on
05 having run, it asks the cache for "a model trained with these
parameters" and trains one if there is none. Keys are hashes of the
parameters (JSON, sorted), so the same parameters always find the same
artefact and different ones never collide.

The folder is ``$SYNOVIS_CACHE`` or ``~/.cache/synovis``. Building an entry
holds a lock on it (``filelock``), so notebooks run in parallel
(``synovis run-notebooks --jobs 2``) wait for one another's artefact instead
of each building it again. Entries are written with ``fsync`` before their
rename (:func:`synovis_lib.files.atomic_write`); an entry that cannot be read
anyway (a disk fault, a copy cut short) is moved aside as
``KEY.corrupt-<time>``, named in a :class:`CacheWarning`, and built again.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from filelock import FileLock

from synovis_lib.files import _jsonable
from synovis_lib.notices import SynovisWarning

ENV_VAR = "SYNOVIS_CACHE"
T = TypeVar("T")
_MISSING = object()


class CacheWarning(SynovisWarning):
    """A cache entry could not be read: it was set aside and is being built again."""

    title = "A damaged cache entry is being rebuilt"


def cache_dir() -> Path:
    """The cache root (``$SYNOVIS_CACHE`` or ``~/.cache/synovis``), created on demand."""
    root = Path(os.environ.get(ENV_VAR) or Path.home() / ".cache" / "synovis").expanduser()
    if root.exists() and not root.is_dir():
        raise NotADirectoryError(f"the synovis cache {root} (${ENV_VAR}) is a file, not a folder")
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
    building leaves no entry behind, so the next call simply builds again. An
    entry ``load`` cannot read is set aside (:func:`_load_or_set_aside`) and built
    again.
    """
    path = cache_path(kind, params, suffix)
    if path.exists() and (value := _load_or_set_aside(path, load)) is not _MISSING:
        return value
    with _building(path):
        # another process may have built it while we waited
        if path.exists() and (value := _load_or_set_aside(path, load)) is not _MISSING:
            return value
        for stale in path.parent.glob(f".{glob.escape(path.stem)}.*.tmp"):
            stale.unlink(missing_ok=True)  # a build killed while saving; we hold its lock
        value = build()
        save(value, path)
    return value


def _load_or_set_aside(path: Path, load: Callable[[Path], T]) -> T | object:
    """``load(path)``, or, if that fails, move the entry to ``<name>.corrupt-<time>`` (kept
    for inspection), warn naming both, and return ``_MISSING`` so the caller rebuilds."""
    try:
        return load(path)
    except Exception as error:  # numpy, torch, json, zip: a damaged file raises many kinds
        aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}")
        with contextlib.suppress(FileNotFoundError):  # another process set it aside first
            os.replace(path, aside)
        warnings.warn(
            f"cache entry {path} could not be read ({type(error).__name__}: {error}); "
            f"moved it to {aside.name} and building it again",
            CacheWarning,
            stacklevel=3,
        )
        return _MISSING


def _building(path: Path) -> FileLock:
    """A lock held while the cache entry at ``path`` is built. Lock files live apart, in
    ``<cache>/.locks/`` (a lock file outlives its lock by design), so entry folders hold
    entries only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    locks = cache_dir() / ".locks"
    locks.mkdir(exist_ok=True)
    return FileLock(locks / f"{path.parent.name}.{path.name}.lock")
