"""Safe writes: an interrupted run never leaves a half-written file or folder, and synovis
never replaces what it did not write.

- :func:`atomic_write`: a temporary file in the same folder, flushed to disk
  (``fsync``) and renamed over the target.
- :func:`atomic_dir`: a temporary folder swapped into place in one step
  (Linux ``renameat2(RENAME_EXCHANGE)``; elsewhere two renames, with the old
  folder put back if the second fails).
- :func:`output_folder`: what every command that writes a folder uses
  (``generate``, ``simulate-clinic``, ``train``, ``cv``, ``second-model``;
  ``run-notebooks`` uses :func:`claim_folder`). It holds a lock, so a second
  writer to the same folder is refused at once; cleans the temporary folders a
  killed run left; replaces only an empty folder or synovis's own earlier
  output of the same kind (a marker file, :data:`MARKER`, says so); and swaps
  the whole new folder in atomically, so a kill at any moment leaves the old
  output or the new one, never a mix.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import getpass
import glob
import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

MARKER = ".synovis-output.json"
"""The file synovis writes into every output folder: which command wrote it, and when."""
_TMP = "synovis-tmp-"
_OLD = "synovis-old-"


def _fsync(path: Path) -> None:
    """Flush a file (or a folder's entries) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; flush it to disk and rename it over ``path``
    on success.

    On an exception the temporary file is removed and ``path`` is untouched. The
    ``fsync`` before the rename means a crash of the machine cannot leave a
    truncated file under the final name.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    tmp_path.chmod(0o666 & ~_umask())  # mkstemp makes it private; give it a normal file's mode
    try:
        yield tmp_path
        _fsync(tmp_path)
        os.replace(tmp_path, target)
        if sys.platform != "win32":
            _fsync(target.parent)
    finally:
        tmp_path.unlink(missing_ok=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one atomic step (Linux ``renameat2``); ``False`` where the
    system or the file system cannot, so the caller falls back to two renames."""
    if not sys.platform.startswith("linux"):
        return False
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), os.fspath(b))


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary folder next to ``path``; swap it into ``path`` on success.

    With ``overwrite`` an existing ``path`` is replaced only after the new
    folder is complete; otherwise an existing ``path`` raises ``FileExistsError``.
    On Linux the old and the new folder are exchanged in one atomic step. Where
    that is not possible, the old folder is renamed aside (``.NAME.synovis-old-*``)
    and the new one into place; if the second rename fails the old folder is put
    back, and :func:`output_folder` restores it after a kill between the two.
    """
    target = Path(path)
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} already exists")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.{_TMP}", dir=target.parent))
    tmp.chmod(0o777 & ~_umask())  # mkdtemp makes it private; give it a normal folder's mode
    try:
        yield tmp
        if not target.exists():
            os.replace(tmp, target)
        elif not _exchange(tmp, target):
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.{_OLD}", dir=target.parent))
            os.replace(target, old)
            try:
                os.replace(tmp, target)
            except BaseException:
                os.replace(old, target)
                raise
            shutil.rmtree(old, ignore_errors=True)
        if sys.platform != "win32":
            _fsync(target.parent)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _leftovers(target: Path, tag: str) -> list[Path]:
    return sorted(target.parent.glob(f".{glob.escape(target.name)}.{tag}*"))


def _recover(target: Path) -> list[Path]:
    """Tidy what a killed writer left beside ``target`` (call with its lock held): put back
    an old folder set aside mid-swap if ``target`` is gone, delete temporary folders.
    Returns the paths removed."""
    olds = _leftovers(target, _OLD)
    if olds and not target.exists():
        os.replace(olds.pop(), target)
    removed = olds + _leftovers(target, _TMP)
    for path in removed:
        shutil.rmtree(path, ignore_errors=True)
    return removed


def _owner(folder: Path) -> str | None:
    """The kind of synovis output in ``folder`` per its marker, or ``None``."""
    try:
        return str(read_json(folder / MARKER)["kind"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def check_output_folder(path: str | os.PathLike, kind: str, *, replace: bool = True) -> Path:
    """Raise unless ``path`` may take ``kind`` output: absent, an empty folder, or (with
    ``replace``) synovis's own earlier ``kind`` output (its :data:`MARKER` says so).

    ``FileExistsError`` names the folder, what it holds and what to do;
    ``NotADirectoryError`` if it is a file. The CLI calls this before any work.
    """
    target = Path(path)
    if not target.exists():
        return target
    if not target.is_dir():
        raise NotADirectoryError(f"{target} is a file, not a folder; choose a folder")
    entries = sorted(p.name for p in target.iterdir())
    if not entries:
        return target
    owner = _owner(target)
    if owner == kind and not replace:
        raise FileExistsError(f"{target} already exists (use --force to replace it)")
    if owner == kind:
        return target
    if owner is not None:
        raise FileExistsError(
            f"{target} holds the output of 'synovis {owner}', not of 'synovis {kind}'; "
            "choose another folder"
        )
    shown = ", ".join(entries[:3]) + (f" and {len(entries) - 3} more" if len(entries) > 3 else "")
    raise FileExistsError(
        f"{target} is not empty ({shown}) and synovis did not write it (no {MARKER}); "
        "synovis replaces only an empty folder or its own earlier output: choose a new "
        "folder, or empty this one yourself"
    )


@contextlib.contextmanager
def _folder_lock(target: Path) -> Iterator[None]:
    """Hold the lock of ``target``; refuse at once if another process holds it.

    Lock files live in the system's temporary folder (one per output folder,
    named by a hash of its absolute path), not beside the output: they outlive
    their lock by design (deleting one would race with the next writer), and
    a reader's folders should hold only what they asked for.
    """
    resolved = os.fspath(target.resolve())
    locks = Path(tempfile.gettempdir()) / f"synovis-locks-{getpass.getuser()}"
    locks.mkdir(parents=True, exist_ok=True)
    name = hashlib.sha256(resolved.encode()).hexdigest()[:16]
    lock = FileLock(locks / f"{name}.lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise FileExistsError(
            f"another synovis process is writing {target}; wait for it to finish or "
            "choose another folder"
        ) from None
    try:
        yield
    finally:
        lock.release()


def _mark(folder: Path, kind: str) -> None:
    from synovis_lib import __version__

    write_json(
        folder / MARKER,
        {
            "kind": kind,
            "synovis": __version__,
            "written": datetime.now(UTC).isoformat(timespec="seconds"),
        },
    )


@contextlib.contextmanager
def output_folder(path: str | os.PathLike, kind: str, *, replace: bool = True) -> Iterator[Path]:
    """Yield a temporary folder to fill with ``kind`` output; swap it into ``path`` whole.

    ``path`` must be absent, empty or synovis's own earlier ``kind`` output
    (:func:`check_output_folder`); with ``replace=False`` it must be absent or
    empty. The lock makes a concurrent writer fail at once with a clear
    ``FileExistsError``; leftovers of a killed run are cleaned first. On an
    exception nothing changes at ``path``.
    """
    target = Path(path)
    with _folder_lock(target):
        _recover(target)
        check_output_folder(target, kind, replace=replace)
        with atomic_dir(target) as tmp:
            yield tmp
            _mark(tmp, kind)


@contextlib.contextmanager
def claim_folder(path: str | os.PathLike, kind: str) -> Iterator[Path]:
    """Hold ``path`` for a writer that updates it in place, file by file (``run-notebooks``
    reuses finished notebooks): the same lock, leftover cleaning and ownership rule as
    :func:`output_folder`, and the marker written at once."""
    target = Path(path)
    with _folder_lock(target):
        _recover(target)
        check_output_folder(target, kind)
        target.mkdir(parents=True, exist_ok=True)
        _mark(target, kind)
        yield target


def _umask() -> int:
    """The process's umask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` atomically (UTF-8)."""
    with atomic_write(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path: str | os.PathLike, data: Any) -> Path:
    """Write ``data`` as indented JSON atomically (NumPy scalars and paths allowed)."""
    return write_text(path, json.dumps(data, indent=2, sort_keys=True, default=_jsonable) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _jsonable(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"cannot write {type(obj).__name__} as JSON")


def write_metrics(results_dir: str | os.PathLike, notebook: str, metrics: dict[str, Any]) -> Path:
    """Write one notebook's headline numbers to ``RESULTS_DIR/<notebook>.metrics.json``.

    ``synovis run-notebooks`` gathers these files into its results table. The
    dict should carry ``profile`` and, for trained models, ``weights`` and
    ``device``, so every number says what produced it.
    """
    return write_json(Path(results_dir) / f"{notebook}.metrics.json", metrics)
