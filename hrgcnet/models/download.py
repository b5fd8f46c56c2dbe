"""Official HRNet COCO checkpoints (mmpose model zoo), fetched by URL when online.

Each file name carries the first 8 hex digits of its SHA-256 (OpenMMLab convention); a download whose
hash does not match is deleted and refused. The verified ``.pth`` is converted once to our safetensors
format (official names) in the cache, so later loads never unpickle. Offline, downloads fail fast with
a clear :class:`~hrgcnet.errors.DownloadError`.

Cache: ``$HRGCNET_CACHE`` or ``~/.cache/hrgcnet``. Mirror: ``$HRGCNET_WEIGHTS_BASE_URL`` replaces the
URL's directory (used by the tests with a loopback server).
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from ..errors import DownloadError, UsageError, WeightsError
from .weights import load_state_dict_strict, load_weights, read_metadata, save_weights

_MMPOSE = "https://download.openmmlab.com/mmpose/top_down/hrnet/"


@dataclass(frozen=True)
class OfficialWeights:
    model: str
    input_size: str
    url: str
    ap: float  # mmpose model zoo, COCO val2017 with a detector of person AP 56.4 (their number, not ours)

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[1]

    @property
    def hash_prefix(self) -> str:
        return self.filename.rsplit("-", 2)[-2]


OFFICIAL_WEIGHTS: dict[str, OfficialWeights] = {
    "hrnet-w32-coco": OfficialWeights("hrnet-w32", "256x192", _MMPOSE + "hrnet_w32_coco_256x192-c78dce93_20200708.pth", 0.746),
    "hrnet-w32-coco-384x288": OfficialWeights("hrnet-w32", "384x288", _MMPOSE + "hrnet_w32_coco_384x288-d9f0d786_20200708.pth", 0.760),
    "hrnet-w48-coco": OfficialWeights("hrnet-w48", "256x192", _MMPOSE + "hrnet_w48_coco_256x192-b9e0b3ab_20200708.pth", 0.756),
    "hrnet-w48-coco-384x288": OfficialWeights("hrnet-w48", "384x288", _MMPOSE + "hrnet_w48_coco_384x288-314c8528_20200708.pth", 0.767),
}


def cache_dir() -> Path:
    return Path(os.environ.get("HRGCNET_CACHE", Path.home() / ".cache" / "hrgcnet"))


def get_official(weights_id: str) -> OfficialWeights:
    if weights_id not in OFFICIAL_WEIGHTS:
        raise UsageError(f"unknown weights {weights_id!r}; choose from {', '.join(OFFICIAL_WEIGHTS)}")
    return OFFICIAL_WEIGHTS[weights_id]


def cached_path(weights_id: str) -> Path:
    """Where the converted safetensors of ``weights_id`` lives (whether or not it exists yet)."""
    return cache_dir() / f"{weights_id}.safetensors"


def is_cached(weights_id: str) -> bool:
    """Whether the converted safetensors of ``weights_id`` is in the cache and complete (its header reads and
    covers the whole file: a file cut short, e.g. by a conversion killed before writes became atomic, does not)."""
    path = cached_path(weights_id)
    if not path.is_file():
        return False
    try:
        read_metadata(path)
    except WeightsError:
        return False
    return True


def download_official(weights_id: str, timeout: float = 20.0, progress: bool = True) -> Path:
    """Download, verify, convert and cache ``weights_id``; returns the safetensors path.

    Already cached complete files are returned at once; an incomplete one (:func:`is_cached` False) is fetched
    again. The converted weights are checked by loading them strictly into the model they belong to and are
    written atomically, so an interrupted conversion leaves no file that looks cached.
    """
    from .registry import create_model  # late: registry imports this package's weights module

    entry = get_official(weights_id)
    out = cached_path(weights_id)
    if is_cached(weights_id):
        return out
    base = os.environ.get("HRGCNET_WEIGHTS_BASE_URL")
    url = (base.rstrip("/") + "/" + entry.filename) if base else entry.url
    raw = cache_dir() / entry.filename
    raw.parent.mkdir(parents=True, exist_ok=True)
    _fetch(url, raw, timeout, progress)
    digest = _sha256(raw)
    if not digest.startswith(entry.hash_prefix):
        raw.unlink(missing_ok=True)
        raise DownloadError(f"{entry.filename}: SHA-256 {digest[:8]}... does not match the expected prefix "
                            f"{entry.hash_prefix}; the file was deleted")
    state_dict, _ = load_weights(raw)
    model = create_model(entry.model)
    load_state_dict_strict(model, state_dict, source=entry.filename)
    save_weights(model, out, {"model": entry.model, "input_size": entry.input_size, "source": url,
                              "sha256": digest, "ap": entry.ap, "ap_source": "mmpose model zoo (COCO val2017, detector AP 56.4)"},
                 dtype=None)
    raw.unlink(missing_ok=True)
    return out


def _fetch(url: str, dest: Path, timeout: float, progress: bool) -> None:
    tmp = dest.with_suffix(dest.suffix + ".part")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp, open(tmp, "wb") as f:  # noqa: S310 (fixed URLs)
            total = int(resp.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name, disable=not progress) as bar:
                while chunk := resp.read(1 << 20):
                    f.write(chunk)
                    bar.update(len(chunk))
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        tmp.unlink(missing_ok=True)
        reason = getattr(exc, "reason", exc)
        raise DownloadError(f"cannot download {url}: {reason}. Are you offline? Download the file elsewhere and "
                            f"pass it with --weights PATH instead.") from exc
    tmp.replace(dest)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()
