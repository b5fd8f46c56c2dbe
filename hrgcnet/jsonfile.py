"""Reading user-supplied JSON files with one clear error for a missing, unreadable or malformed file, and writing
output files atomically (a temporary file in the same folder, then ``os.replace``): an interrupted or failed write
never leaves a truncated file under the final name, and a file that existed before is kept until the new one is
complete."""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

from .errors import DatasetError, HRGCNetError, UsageError


def read_json(path: str | Path, what: str, error: type[HRGCNetError] = DatasetError):
    """The parsed content of ``path``; ``error("<what> not found: ...")``, ``error("cannot read <what> ...")``
    (permission denied, I/O error) or ``error("<what> ... is not valid JSON")``."""
    path = Path(path)
    if not path.is_file():
        raise error(f"{what} not found: {path}")
    try:
        text = path.read_text()
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise error(f"{what} {path} is not valid JSON: {exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(f"{what} {path} is not valid JSON: {exc}") from None


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path next to ``path`` to write; on normal exit it replaces ``path`` (``os.replace``, atomic on
    one file system), on an exception it is deleted and ``path`` is left as it was. Creates the parent folder.

    OS errors (permission denied, disk full, a folder at ``path``) raise :class:`~hrgcnet.errors.HRGCNetError`
    ``"cannot write PATH: reason"``, one line for the CLI."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        os.replace(tmp, path)
    except OSError as exc:
        raise HRGCNetError(f"cannot write {path}: {exc.strerror or exc}") from exc
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (:func:`atomic_path`)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return path


def check_output_path(path: str | Path, option: str) -> Path:
    """Check, before any long work, that an output file can be written to ``path``: not a folder, its parent
    folder exists (or can be created) and is writable. Creates the parent. :class:`UsageError` naming ``option``
    otherwise."""
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{option} {path} is a folder; give a file name")
    if path.exists() and not path.is_file():
        raise UsageError(f"{option} {path} exists and is not a regular file")
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{option} {path}: cannot create its folder {parent}: {exc.strerror or exc}") from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {path}: folder {parent} is not writable")
    return path


def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether two paths name the same file (resolving links; False if either does not exist or cannot be read)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return Path(a).resolve() == Path(b).resolve()
