"""load_image: formats, EXIF orientation, arrays, limits, and clear errors for bad input."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import hrgcnet.io as hio
from hrgcnet.errors import ImageError
from hrgcnet.io import list_images, load_image, load_image_with_notes


def _encode(pil: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    pil.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _gradient(w: int = 40, h: int = 20) -> np.ndarray:
    x = np.linspace(0, 255, w, dtype=np.float64)[None, :, None]
    y = np.linspace(0, 255, h, dtype=np.float64)[:, None, None]
    return np.concatenate([np.broadcast_to(x, (h, w, 1)), np.broadcast_to(y, (h, w, 1)),
                           np.full((h, w, 1), 60.0)], axis=2).astype(np.uint8)


def test_png_path_round_trip_is_exact(tmp_path):
    arr = _gradient()
    path = tmp_path / "a.png"
    Image.fromarray(arr).save(path)
    out = load_image(path)
    assert out.dtype == np.uint8 and out.shape == (20, 40, 3) and out.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(out, arr)
    np.testing.assert_array_equal(load_image(str(path)), arr)


def test_exif_orientation_is_applied_and_noted():
    arr = _gradient(40, 20)
    pil = Image.fromarray(arr)
    exif = pil.getexif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    out, notes = load_image_with_notes(_encode(pil, "JPEG", exif=exif, quality=95))
    assert out.shape == (40, 20, 3)
    expected = np.rot90(arr, k=-1)  # 90 degrees clockwise
    assert np.abs(out.astype(int) - expected.astype(int)).mean() < 4  # JPEG noise only
    assert any("EXIF orientation" in n for n in notes)
    _, notes = load_image_with_notes(_encode(pil, "JPEG", exif=exif), name="phone.jpg")  # an upload's name
    assert notes[0].startswith("phone.jpg: turned upright")
    with pytest.raises(ImageError, match="^phone.jpg: not an image file"):
        load_image_with_notes(b"not an image", name="phone.jpg")


def test_grayscale_palette_and_cmyk_become_rgb():
    gray = (np.arange(200).reshape(10, 20) % 256).astype(np.uint8)
    out = load_image(_encode(Image.fromarray(gray, "L"), "PNG"))
    assert out.shape == (10, 20, 3)
    np.testing.assert_array_equal(out[..., 0], gray)
    np.testing.assert_array_equal(out[..., 2], gray)
    pal = Image.fromarray(_gradient()).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    assert load_image(_encode(pal, "PNG")).shape == (20, 40, 3)
    cmyk = Image.fromarray(_gradient()).convert("CMYK")
    out = load_image(_encode(cmyk, "JPEG", quality=95))
    assert out.shape == (20, 40, 3)
    assert np.abs(out.astype(int) - _gradient().astype(int)).mean() < 8


def test_rgba_is_composited_on_white():
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[..., 3] = 255
    rgba[0, 0, 3] = 0      # fully transparent pixel
    out, notes = load_image_with_notes(_encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    np.testing.assert_array_equal(out[0, 0], [255, 255, 255])
    np.testing.assert_array_equal(out[1, 1], [255, 0, 0])
    assert any("white" in n for n in notes)


def test_16_bit_png_is_scaled_to_8_bits():
    arr16 = np.array([[0, 257 * 100, 65535]], dtype=np.uint16)
    out, notes = load_image_with_notes(_encode(Image.fromarray(arr16), "PNG"))
    np.testing.assert_array_equal(out[0, :, 0], [0, 100, 255])
    assert any("16-bit" in n for n in notes)


def test_8_bit_values_in_a_16_bit_png_keep_their_values():
    """Scaled by the values' range, not the container's: 0..255 saved as 16-bit is not turned black."""
    arr16 = np.array([[0, 100, 255]], dtype=np.uint16)
    out, notes = load_image_with_notes(_encode(Image.fromarray(arr16), "PNG"))
    np.testing.assert_array_equal(out[0, :, 0], [0, 100, 255])
    assert any("values lie in 0..255" in n for n in notes)


def test_animated_gif_uses_the_first_frame():
    frames = [Image.fromarray(np.full((8, 8, 3), v, np.uint8)) for v in (10, 200, 120)]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=50)
    out, notes = load_image_with_notes(buf.getvalue())
    assert abs(int(out[4, 4, 0]) - 10) <= 2
    assert any("3 frames" in n for n in notes)


def test_pil_input_and_arrays():
    arr = _gradient()
    np.testing.assert_array_equal(load_image(Image.fromarray(arr)), arr)
    np.testing.assert_array_equal(load_image(arr), arr)
    np.testing.assert_array_equal(load_image(arr[..., ::-1], color="bgr"), arr)
    np.testing.assert_array_equal(load_image(arr.astype(np.float32) / 255.0), arr)
    np.testing.assert_array_equal(load_image(arr.astype(np.float64)), arr)
    np.testing.assert_array_equal(load_image(arr.astype(np.uint16) * 257), arr)
    np.testing.assert_array_equal(load_image(arr[..., :1]), np.repeat(arr[..., :1], 3, axis=2))
    np.testing.assert_array_equal(load_image(arr[..., 0]), np.repeat(arr[..., :1], 3, axis=2))
    bgra = np.concatenate([arr[..., ::-1], np.full((20, 40, 1), 255, np.uint8)], axis=2)
    np.testing.assert_array_equal(load_image(bgra, color="bgr"), arr)
    assert load_image(np.ones((3, 3), bool)).max() == 255


@pytest.mark.parametrize("arr, match", [
    (np.zeros((0, 10, 3), np.uint8), "empty image"),
    (np.zeros((3, 20, 30), np.uint8), "channel-first"),
    (np.zeros((20, 30, 2), np.uint8), r"expected \(H, W\)"),
    (np.zeros((2, 20, 30, 3), np.uint8), r"expected \(H, W\)"),
    (np.full((4, 4, 3), np.nan, np.float32), "NaN"),
    (np.full((4, 4, 3), np.inf), "NaN or infinite"),
    (np.full((4, 4, 3), -1.0), r"\[0, 1\] or \[0, 255\]"),
    (np.full((4, 4, 3), 300, np.int32), "0..255"),
    (np.zeros((4, 4, 3), np.complex64), "unsupported dtype"),
])
def test_bad_arrays_are_rejected_with_clear_messages(arr, match):
    with pytest.raises(ImageError, match=match):
        load_image(arr)


def test_bad_files_are_rejected_with_clear_messages(tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        load_image(tmp_path / "missing.jpg")
    with pytest.raises(ImageError, match="is a folder"):
        load_image(tmp_path)
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(ImageError, match="empty file"):
        load_image(empty)
    text = tmp_path / "notes.jpg"
    text.write_text("this is not an image")
    with pytest.raises(ImageError, match="not an image file"):
        load_image(text)
    jpeg = _encode(Image.fromarray(_gradient(200, 200)), "JPEG")
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(jpeg[: len(jpeg) // 2])
    with pytest.raises(ImageError, match="truncated or corrupt"):
        load_image(truncated)
    with pytest.raises(ImageError, match="empty"):
        load_image(b"")
    with pytest.raises(ImageError, match="cannot read an image from a list"):
        load_image([[1, 2, 3]])
    with pytest.raises(ImageError, match="color must be"):
        load_image(_gradient(), color="hsv")


def test_size_limits(tmp_path, monkeypatch):
    path = tmp_path / "big.png"
    Image.fromarray(_gradient(100, 50)).save(path)
    monkeypatch.setattr(hio, "MAX_IMAGE_PIXELS", 100 * 50 - 1)
    with pytest.raises(ImageError, match="megapixels is larger than the limit"):
        load_image(path)
    with pytest.raises(ImageError, match="megapixels"):
        load_image(_gradient(100, 50))
    monkeypatch.setattr(hio, "MAX_IMAGE_PIXELS", 10**9)
    monkeypatch.setattr(hio, "MAX_IMAGE_BYTES", 100)
    with pytest.raises(ImageError, match="larger than the limit"):
        load_image(path)
    with pytest.raises(ImageError, match="larger than the limit"):
        load_image(path.read_bytes())


def test_ultralytics_pil_patch_is_bypassed(monkeypatch):
    """Ultralytics replaces PIL.Image.open with a version that pip-installs a HEIF plugin on unknown files."""
    patches = pytest.importorskip("ultralytics.utils.patches")
    monkeypatch.setattr(Image, "open", patches.image_open)  # as right after `import ultralytics`
    with pytest.raises(ImageError, match="not an image file"):
        load_image(b"definitely not an image")


def test_yolo_import_restores_pil_open():
    """Importing Ultralytics through the yolo detector leaves PIL.Image.open alone (fresh interpreter)."""
    pytest.importorskip("ultralytics")
    code = ("from PIL import Image; original = Image.open\n"
            "from hrgcnet.detectors.yolo import _import_yolo; _import_yolo()\n"
            "import ultralytics.utils.patches as p; assert p.image_open is not original\n"
            "assert Image.open is original, Image.open")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_list_images_picks_image_suffixes_sorted(tmp_path):
    for name in ("b.JPG", "a.png", "c.txt", "d.webp"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub.jpg").mkdir()
    assert [p.name for p in list_images(tmp_path)] == ["a.png", "b.JPG", "d.webp"]
