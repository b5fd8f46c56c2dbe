"""The OpenVINO backend's cache on disk: what it holds, and removing it (``hrgcnet cache``).

:func:`~hrgcnet.backends.openvino.cache_dir` (``$HRGCNET_CACHE/openvino``) holds the exported IRs (``NAME.xml`` with
``NAME.bin``; one per network state, input size, part or int8 recipe and OpenVINO version) and OpenVINO's compiled
blobs (``compiled/*.blob``, one per IR and precision). Nothing evicts them by itself: every new weights file (a
training run's checkpoints evaluated on the fast path) and every new recipe leaves the old ones behind, a few
hundred MB per network and input size. All of it is rebuilt on next use: an export takes tens of seconds, a
compilation 10-13 s. An IR's last use is its modification time (:func:`~hrgcnet.backends.openvino.cached_ir` touches
it whenever it reads it); a blob's is when it was compiled.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from . import export, int8

#: the folders an export or an int8 quantization writes first and renames from (left behind when killed)
PARTIAL_PREFIXES = (export.PARTIAL_PREFIX, int8.PARTIAL_PREFIX)


@dataclass(frozen=True)
class CacheEntry:
    """One thing in the cache: ``kind`` ``"export"`` (``path`` = the IR's ``.xml``, its ``.bin`` counted with it),
    ``"compiled"`` (a blob) or ``"partial"`` (an export's temporary folder); ``size`` in bytes; ``last_used`` a
    POSIX time."""

    path: Path
    kind: str
    size: int
    last_used: float

    def files(self) -> list[Path]:
        return [self.path, self.path.with_suffix(".bin")] if self.kind == "export" else [self.path]


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size if path.is_file() else 0


def cache_entries(root: Path | None = None) -> list[CacheEntry]:
    """Everything in the cache ``root`` (default :func:`~hrgcnet.backends.openvino.cache_dir`), least recently used
    first. Files that are not the cache's own (another name, an ``.xml`` without its ``.bin``) are not listed."""
    from .openvino import cache_dir

    root = cache_dir() if root is None else Path(root)
    if not root.is_dir():
        return []
    found = []
    for xml in root.glob("*.xml"):
        if xml.with_suffix(".bin").is_file():
            found.append(CacheEntry(xml, "export", _size(xml) + _size(xml.with_suffix(".bin")), xml.stat().st_mtime))
    for blob in (root / "compiled").glob("*.blob"):
        found.append(CacheEntry(blob, "compiled", _size(blob), blob.stat().st_mtime))
    for partial in root.iterdir():
        if partial.is_dir() and partial.name.startswith(PARTIAL_PREFIXES):
            found.append(CacheEntry(partial, "partial", _size(partial), partial.stat().st_mtime))
    return sorted(found, key=lambda e: e.last_used)


def unused_for(entries: list[CacheEntry], days: float, now: float | None = None) -> list[CacheEntry]:
    """The entries last used more than ``days`` days before ``now`` (default: now)."""
    cutoff = (time.time() if now is None else now) - days * 86400
    return [e for e in entries if e.last_used < cutoff]


def remove_entries(entries: list[CacheEntry]) -> int:
    """Delete ``entries``; returns the bytes freed. A file already gone is skipped."""
    freed = 0
    for entry in entries:
        if entry.kind == "partial":
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            for path in entry.files():
                path.unlink(missing_ok=True)
        freed += entry.size
    return freed
