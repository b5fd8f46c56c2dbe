"""The bad (and odd) inputs every entry point is tried with, written as files, and what each must give.

Every kind maps to one :class:`Outcome`: ``ok`` (handled, optionally with a note that contains
``note``) or ``error`` (a typed :class:`hrgcnet.errors.HRGCNetError` whose message contains ``message``).
The same table is in ``docs/reliability.md``.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class Outcome:
    ok: bool
    message: str = ""  # substring of the error message (error) or of a note (ok), lower case
    note: str = ""


def ok(note: str = "") -> Outcome:
    return Outcome(True, note=note)


def error(message: str) -> Outcome:
    return Outcome(False, message=message)


def _person_like(h: int = 160, w: int = 120) -> np.ndarray:
    """A smooth synthetic RGB image ``(h, w, 3)`` uint8 (no real content needed for these tests)."""
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1), (x + y) % 256], axis=-1)
    return img.astype(np.uint8)


def _encode(pil: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    pil.save(buf, format=fmt, **kw)
    return buf.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares ``width x height`` pixels (a decompression bomb's header)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def exif_jpeg(orientation: int, h: int = 80, w: int = 40) -> bytes:
    """A JPEG stored ``h x w`` with EXIF orientation ``orientation``; its top-left block is white."""
    arr = np.zeros((h, w, 3), np.uint8)
    arr[: h // 4, : w // 4] = 255
    exif = Image.Exif()
    exif[0x0112] = orientation
    return _encode(Image.fromarray(arr), "JPEG", exif=exif.tobytes(), quality=95)


def image_files() -> dict[str, tuple[str, bytes, Outcome]]:
    """``{kind: (file name, bytes, outcome)}`` of the file-like bad inputs (the same for every entry point)."""
    rgb = _person_like()
    good_jpeg = _encode(Image.fromarray(rgb), "JPEG", quality=90)
    rng = np.random.default_rng(0)
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 128, np.uint8)])
    pal = Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    pal.info["transparency"] = 0
    gif_frames = [Image.fromarray(np.full((40, 30, 3), v, np.uint8)) for v in (0, 120, 240)]
    gif = io.BytesIO()
    gif_frames[0].save(gif, format="GIF", save_all=True, append_images=gif_frames[1:], duration=100, loop=0)
    pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    return {
        "zero_byte": ("empty.jpg", b"", error("empty")),
        "truncated_jpeg": ("truncated.jpg", good_jpeg[: len(good_jpeg) // 2], error("truncated")),
        "random_bytes_jpg": ("random.jpg", rng.integers(0, 256, 4096, dtype=np.uint8).tobytes(),
                             error("not an image")),
        "text_file": ("notes.txt", b"this is not an image\n" * 20, error("not an image")),
        "pdf": ("document.pdf", pdf, error("not an image")),
        "decompression_bomb": ("bomb.png", png_declaring(40000, 40000), error("megapixels")),
        "one_pixel": ("one.png", _encode(Image.new("RGB", (1, 1), (10, 20, 30)), "PNG"), ok()),
        "extreme_aspect": ("wide.png", _encode(Image.new("RGB", (10000, 8), (90, 90, 90)), "PNG"), ok()),
        "png_16bit": ("deep.png", _encode(Image.fromarray((rgb[..., 0].astype(np.uint16) * 257)), "PNG"),
                      ok("16-bit")),
        "grayscale": ("gray.png", _encode(Image.fromarray(rgb[..., 0]), "PNG"), ok()),
        "rgba": ("alpha.png", _encode(Image.fromarray(rgba), "PNG"), ok("transparent")),
        "palette_transparency": ("palette.png", _encode(pal, "PNG", transparency=0), ok("transparent")),
        "cmyk_jpeg": ("cmyk.jpg", _encode(Image.fromarray(rgb).convert("CMYK"), "JPEG"), ok()),
        "exif_rotated_3": ("exif3.jpg", exif_jpeg(3), ok("exif")),
        "exif_rotated_6": ("exif6.jpg", exif_jpeg(6), ok("exif")),
        "exif_rotated_8": ("exif8.jpg", exif_jpeg(8), ok("exif")),
        "animated_gif": ("anim.gif", gif.getvalue(), ok("first frame")),
        "webp": ("image.webp", _encode(Image.fromarray(rgb), "WEBP"), ok()),
    }


def bad_arrays() -> dict[str, tuple[np.ndarray, Outcome]]:
    """Numpy arrays handed to the Python API (and as live-webcam frames)."""
    nan = np.full((32, 24, 3), 0.5, np.float32)
    nan[3, 4, 1] = np.nan
    inf = np.full((32, 24, 3), 0.5, np.float64)
    inf[0, 0, 0] = np.inf
    return {
        "array_nan": (nan, error("nan")),
        "array_inf": (inf, error("nan or infinite")),
        "array_complex": (np.zeros((32, 24, 3), np.complex64), error("unsupported dtype")),
        "array_object": (np.full((32, 24, 3), None, object), error("unsupported dtype")),
        "array_int_out_of_range": (np.full((32, 24, 3), 300, np.int32), error("0..255")),
        "array_1d": (np.zeros(100, np.uint8), error("expected (h, w)")),
        "array_5_channels": (np.zeros((32, 24, 5), np.uint8), error("expected (h, w)")),
        "array_channel_first": (np.zeros((3, 32, 24), np.uint8), error("channel-first")),
        "array_empty": (np.zeros((0, 24, 3), np.uint8), error("empty")),
    }


#: Boxes (x1, y1, x2, y2) on a 160x120 image (H x W).
BAD_BOXES: dict[str, tuple[list, Outcome]] = {
    "box_outside_image": ([[500, 500, 600, 700]], error("outside")),
    "box_partly_outside": ([[-20, -30, 60, 200]], ok()),
    "box_zero_size": ([[10, 10, 10, 50]], error("not a valid")),
    "box_negative_size": ([[50, 60, 10, 20]], error("not a valid")),
    "box_nan": ([[np.nan, 0, 10, 10]], error("not a valid")),
    "box_wrong_shape": ([[1, 2, 3]], error("(n, 4)")),
}


def write_files(folder: Path) -> dict[str, tuple[Path, Outcome]]:
    """Write every :func:`image_files` kind into ``folder``; ``{kind: (path, outcome)}``."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for kind, (name, data, outcome) in image_files().items():
        path = folder / name
        path.write_bytes(data)
        out[kind] = (path, outcome)
    return out
