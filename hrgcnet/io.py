"""Image loading for the pipeline, the CLI and the apps: one function, clear errors.

:func:`load_image` accepts a path, encoded bytes, a PIL image or a numpy array and returns an
``(H, W, 3)`` uint8 RGB image:

* files and bytes: EXIF orientation applied; grayscale, palette, RGBA/LA (composited on white),
  CMYK, 16-bit and float modes converted; only the first frame of an animation is used;
* arrays: ``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` or ``(H, W, 4)``; channel order given by
  ``color`` (``"rgb"`` or ``"bgr"``, as returned by ``cv2.imread``); uint8, uint16 (scaled by
  1/257), other integers within 0..255, bool, or floats in [0, 1] or [0, 255].

Everything else raises :class:`hrgcnet.errors.ImageError` with a message that says what is wrong.
:func:`load_image_with_notes` also returns notes on what was done (EXIF rotation, frames dropped,
alpha removed) for the UIs to show.
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageError

#: Largest accepted image, in pixels (50 megapixels).
MAX_IMAGE_PIXELS = 50_000_000
#: Largest accepted encoded image, in bytes (25 MB).
MAX_IMAGE_BYTES = 25 * 1024 * 1024
#: File suffixes that :func:`list_images` picks up in folders.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif")

ImageSource = Union[str, os.PathLike, bytes, bytearray, memoryview, Image.Image, np.ndarray]


def load_image(source: ImageSource, *, color: str = "rgb") -> np.ndarray:
    """Load ``source`` as an ``(H, W, 3)`` uint8 RGB array (see the module docstring).

    Args:
        source: path, encoded bytes, PIL image or numpy array.
        color: channel order of an array ``source``: ``"rgb"`` or ``"bgr"``. Ignored otherwise.

    Raises:
        ImageError: unreadable, empty, truncated, too large, or an array of the wrong shape/dtype/values.
    """
    return load_image_with_notes(source, color=color)[0]


def load_image_with_notes(source: ImageSource, *, color: str = "rgb",
                          name: str | None = None) -> tuple[np.ndarray, list[str]]:
    """:func:`load_image` that also returns notes (list of str) on the conversions applied; ``name`` (e.g. an
    upload's file name) starts the notes and errors of encoded bytes and of a file instead of "image bytes" or the
    file's path (a server's temporary upload path is nobody's business)."""
    if color not in ("rgb", "bgr"):
        raise ImageError(f"color must be 'rgb' or 'bgr', got {color!r}")
    notes: list[str] = []
    if isinstance(source, np.ndarray):
        image = _from_array(source, color, notes)
    elif isinstance(source, Image.Image):
        image = _from_pil(source, notes, label="PIL image")
    elif isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        image = _from_bytes(data, notes, label=name or "image bytes")
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        image = _from_bytes(_read_file(path, name), notes, label=name or str(path))
    else:
        raise ImageError(f"cannot read an image from a {type(source).__name__}; "
                         "pass a path, bytes, a PIL image or a numpy array")
    return np.ascontiguousarray(image), notes


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files directly inside ``folder`` (by suffix, case-insensitive), sorted by name."""
    folder = Path(folder)
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def check_image_file(path: Path, name: str | None = None) -> None:
    """Raise :class:`ImageError` for a path that cannot hold an image, without reading it: missing, a folder,
    empty or over :data:`MAX_IMAGE_BYTES`. Errors start with ``name`` (default: the path)."""
    label = name or str(path)
    if not path.exists():
        raise ImageError(f"{label}: no such file")
    if path.is_dir():
        raise ImageError(f"{label}: is a folder, not an image file")
    size = path.stat().st_size
    if size == 0:
        raise ImageError(f"{label}: empty file (0 bytes)")
    if size > MAX_IMAGE_BYTES:
        raise ImageError(f"{label}: file of {size / 2**20:.1f} MB is larger than the limit of "
                         f"{MAX_IMAGE_BYTES / 2**20:.0f} MB")


def _read_file(path: Path, name: str | None = None) -> bytes:
    check_image_file(path, name)
    label = name or str(path)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ImageError(f"{label}: cannot read file ({exc.strerror or exc})") from exc


#: What PIL raises on corrupt or truncated files: OSError mostly, its plugins also ValueError ("Truncated IHDR
#: chunk"), TypeError ("Missing dimensions"), SyntaxError, KeyError or IndexError on broken headers.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, TypeError, KeyError, IndexError)


def _from_bytes(data: bytes, notes: list[str], label: str) -> np.ndarray:
    if len(data) == 0:
        raise ImageError(f"{label}: empty (0 bytes)")
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageError(f"{label}: {len(data) / 2**20:.1f} MB is larger than the limit of "
                         f"{MAX_IMAGE_BYTES / 2**20:.0f} MB")
    try:
        pil = _pil_open(io.BytesIO(data))
    except UnidentifiedImageError as exc:
        raise ImageError(f"{label}: not an image file (format not recognised)") from exc
    except Image.DecompressionBombError as exc:
        raise ImageError(f"{label}: image too large, more than the limit of {MAX_IMAGE_PIXELS / 1e6:.0f} "
                         f"megapixels ({exc})") from exc
    except _DECODE_ERRORS as exc:
        raise ImageError(f"{label}: cannot decode image ({exc})") from exc
    return _from_pil(pil, notes, label)


def _pil_open(fp: io.BytesIO) -> Image.Image:
    """``PIL.Image.open`` without Ultralytics' patch, which on an unidentified file tries to pip-install
    a HEIF plugin (slow, and a network call from a library function)."""
    opener = Image.open
    if getattr(opener, "__module__", "") == "ultralytics.utils.patches":
        opener = getattr(sys.modules["ultralytics.utils.patches"], "_image_open", opener)
    return opener(fp)


def _from_pil(pil: Image.Image, notes: list[str], label: str) -> np.ndarray:
    _check_size(pil.width, pil.height, label)
    try:
        frames = getattr(pil, "n_frames", 1)
        if frames > 1:
            pil.seek(0)
            notes.append(f"{label}: animation with {frames} frames; only the first frame is used")
        orientation = _exif_orientation(pil)
        pil.load()
        oriented = ImageOps.exif_transpose(pil)
    except Image.DecompressionBombError as exc:
        raise ImageError(f"{label}: image too large, more than the limit of {MAX_IMAGE_PIXELS / 1e6:.0f} "
                         f"megapixels ({exc})") from exc
    except _DECODE_ERRORS as exc:
        raise ImageError(f"{label}: cannot decode image, the file may be truncated or corrupt ({exc})") from exc
    if orientation not in (None, 1):
        notes.append(f"{label}: turned upright by its EXIF orientation tag ({orientation})")
    pil = oriented if oriented is not None else pil
    return _pil_to_rgb(pil, notes, label)


def _exif_orientation(pil: Image.Image) -> int | None:
    try:
        return pil.getexif().get(0x0112)
    except Exception:  # malformed EXIF blocks must not stop loading
        return None


def _pil_to_rgb(pil: Image.Image, notes: list[str], label: str) -> np.ndarray:
    mode = pil.mode
    if mode == "RGB":
        return np.asarray(pil, dtype=np.uint8)
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # scaled by the values' range, not the container's: 8-bit values saved in a 16-bit PNG stay as they are
        arr = np.asarray(pil).astype(np.float64)
        high = arr.max(initial=0)
        if high > 255:
            bits = 16 if high <= 65535 else 32
            arr = arr * (255.0 / (65535.0 if bits == 16 else high))
            notes.append(f"{label}: {bits}-bit image scaled to 8 bits")
        elif mode != "I":
            notes.append(f"{label}: 16-bit image whose values lie in 0..255, read as 8-bit values")
        return _gray_to_rgb(np.clip(np.rint(arr), 0, 255).astype(np.uint8))
    if mode == "F":
        arr = np.asarray(pil, dtype=np.float64)
        return _gray_to_rgb(_float_to_uint8(arr, label))
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in pil.info):
        rgba = pil.convert("RGBA")
        if np.asarray(rgba)[..., 3].min() < 255:
            notes.append(f"{label}: transparent pixels composited on white")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(background, rgba).convert("RGB"), dtype=np.uint8)
    try:
        return np.asarray(pil.convert("RGB"), dtype=np.uint8)
    except (ValueError, OSError) as exc:
        raise ImageError(f"{label}: cannot convert image mode {mode!r} to RGB ({exc})") from exc


def _check_size(width: int, height: int, label: str) -> None:
    if width <= 0 or height <= 0:
        raise ImageError(f"{label}: empty image ({width}x{height} pixels)")
    if width * height > MAX_IMAGE_PIXELS:
        raise ImageError(f"{label}: {width}x{height} = {width * height / 1e6:.1f} megapixels is larger than "
                         f"the limit of {MAX_IMAGE_PIXELS / 1e6:.0f} megapixels")


def _gray_to_rgb(gray: np.ndarray) -> np.ndarray:
    return np.repeat(gray[..., None], 3, axis=2)


def _float_to_uint8(arr: np.ndarray, label: str) -> np.ndarray:
    if not np.isfinite(arr).all():
        raise ImageError(f"{label}: contains NaN or infinite values")
    lo, hi = float(arr.min(initial=0.0)), float(arr.max(initial=0.0))
    if lo < 0 or hi > 255:
        raise ImageError(f"{label}: float values must lie in [0, 1] or [0, 255], got [{lo:g}, {hi:g}]")
    if hi <= 1.0:
        arr = arr * 255.0
    return np.clip(np.rint(arr), 0, 255).astype(np.uint8)


def _from_array(arr: np.ndarray, color: str, notes: list[str]) -> np.ndarray:
    label = f"array of shape {arr.shape} and dtype {arr.dtype}"
    if arr.ndim == 3 and arr.shape[0] in (1, 3, 4) and arr.shape[2] not in (1, 3, 4):
        raise ImageError(f"{label}: looks channel-first (C, H, W); pass (H, W, C), e.g. arr.transpose(1, 2, 0)")
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 3, 4)):
        raise ImageError(f"{label}: expected (H, W), (H, W, 1), (H, W, 3) or (H, W, 4)")
    _check_size(arr.shape[1], arr.shape[0], label)
    if arr.dtype == np.uint8:
        out = arr
    elif arr.dtype == np.bool_:
        out = arr.astype(np.uint8) * 255
    elif arr.dtype == np.uint16:
        out = np.rint(arr.astype(np.float64) / 257.0).astype(np.uint8)
        notes.append("16-bit array scaled to 8 bits")
    elif np.issubdtype(arr.dtype, np.integer):
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi > 255:
            raise ImageError(f"{label}: integer values must lie in 0..255, got {lo}..{hi}")
        out = arr.astype(np.uint8)
    elif np.issubdtype(arr.dtype, np.floating):
        out = _float_to_uint8(arr.astype(np.float64), label)
    else:
        raise ImageError(f"{label}: unsupported dtype; use uint8, uint16, integers in 0..255 or floats")
    if out.ndim == 2 or out.shape[2] == 1:
        return _gray_to_rgb(out.reshape(out.shape[0], out.shape[1]))
    if color == "bgr":
        out = out[..., [2, 1, 0, 3][: out.shape[2]]]
    if out.shape[2] == 4:
        alpha = out[..., 3:4].astype(np.float64) / 255.0
        if alpha.min() < 1.0:
            notes.append("transparent pixels composited on white")
        out = np.rint(out[..., :3] * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    return out
