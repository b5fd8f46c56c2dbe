"""Live-webcam FPS in headless Chromium, with a one-person clip as the camera (docs/inference-speed.md).

Chromium's fake camera plays a looping y4m clip made from ``assets/astronaut.jpg`` (one person, 640x480, a slow
pan). The app runs in this process; for each input size a fresh page starts the Live webcam with the page's
defaults (detector auto: NanoDet-g offline, flip test on, smooth + track on) and, after a warm-up, reads the
"FPS achieved" of the status line (the last 10 processed frames) every second. Run it on a quiet machine:

    python scripts/bench_live.py --out docs/inference/bench_live-MACHINE.json   (e.g. MACHINE = avx512-epyc)
    HRGCNET_APP_PRECISION=int8 python scripts/bench_live.py --out ...             (the app's networks in int8)
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
CHROMIUM = "/usr/bin/chromium"


def make_camera_clip(path: Path, seconds: float = 4.0, fps: int = 30) -> None:
    """A y4m (what Chromium's fake camera reads) of the astronaut photo, panned slowly, 640x480, looping."""
    import av
    import numpy as np

    from hrgcnet.io import load_image
    from hrgcnet.video.synthetic import pan_zoom_transforms

    photo = load_image(REPO / "assets" / "astronaut.jpg")
    frames = int(seconds * fps)
    # there and back, so the loop has no jump
    transforms = pan_zoom_transforms(photo.shape[:2], frames // 2, out_hw=(480, 640), zoom=(1.0, 1.1), pan=0.05)
    transforms = np.concatenate([transforms, transforms[::-1]])
    with av.open(str(path), "w", format="yuv4mpegpipe") as container:
        stream = container.add_stream("rawvideo", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 640, 480, "yuv420p"
        for a in transforms:
            image = cv2.warpAffine(photo, a, (640, 480), borderMode=cv2.BORDER_REFLECT)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="128x96,256x192")
    parser.add_argument("--warmup-frames", type=int, default=15,
                        help="processed frames before the readings start (the first use exports and compiles)")
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds of readings per size")
    parser.add_argument("--warmup-timeout", type=float, default=300.0, help="seconds allowed for the warm-up")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()

    from playwright.sync_api import TimeoutError as PlaywrightTimeout, sync_playwright

    from app import state, streaming
    from app.ui import build_demo, launch

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo = build_demo()
    launch(demo, host="127.0.0.1", port=port, quiet=True)
    url = f"http://127.0.0.1:{port}/"
    rows = []
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        clip = Path(tmp) / "camera.y4m"
        make_camera_clip(clip)
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={clip}"])
        for size in args.sizes.split(","):
            context = browser.new_context(permissions=["camera"], viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            page.goto(url, wait_until="domcontentloaded")
            page.wait_for_selector("#run", timeout=60_000)
            page.get_by_label(size).check()
            page.get_by_role("tab", name="Live webcam").click()
            webcam = page.locator("#live-input")
            webcam.get_by_text("Click to Access Webcam").click()
            webcam.locator("button:visible", has_text="Record").click()
            try:
                page.wait_for_function(f"(document.querySelector('#live-status')?.innerText.match(/(\\d+) processed,/)"
                                       f" || [0, 0])[1] >= {args.warmup_frames}", timeout=args.warmup_timeout * 1000)
            except PlaywrightTimeout:
                shot = Path(tempfile.gettempdir()) / f"bench_live_{size}.png"
                page.screenshot(path=str(shot))
                sys.exit(f"{size}: fewer than {args.warmup_frames} frames processed in {args.warmup_timeout:.0f} s; "
                         f"status: {page.inner_text('#live-status')!r}; page: {shot}")
            readings, status = [], ""
            end = time.monotonic() + args.seconds
            while time.monotonic() < end:
                status = page.inner_text("#live-status")
                match = re.search(r"([\d.]+) FPS achieved", status)
                if match:
                    readings.append(float(match.group(1)))
                time.sleep(1.0)
            ms = [float(m) for m in re.findall(r"last frame (\d+) ms", status)]
            row = {"input": size, "precision": state.PRECISION, "stream_every_s": streaming.STREAM_EVERY_S,
                   "fps_median": round(statistics.median(readings), 2) if readings else None,
                   "fps_min": min(readings, default=None), "fps_max": max(readings, default=None),
                   "last_frame_ms": ms[0] if ms else None, "status": status}
            print(json.dumps(row), flush=True)
            rows.append(row)
            context.close()
        browser.close()
    if args.out:
        env = [f"HRGCNET_APP_PRECISION={state.PRECISION}"] if state.PRECISION != "auto" else []
        command = " ".join([*env, "python scripts/bench_live.py", *sys.argv[1:]])
        date = time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime())
        Path(args.out).write_text(json.dumps({"command": command, "date": date, "rows": rows}, indent=1) + "\n")
    demo.close()


if __name__ == "__main__":
    main()
