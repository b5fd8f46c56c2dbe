"""The app in headless Chromium (Debian's ``/usr/bin/chromium``, never a downloaded browser): pick an
example, run, and see the overlay. The screenshot is kept as ``test-artifacts/app_browser.png``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.is_file(), reason="Debian's chromium is not installed (apt-get install chromium)"),
]


def _open_with_the_first_example(browser, url: str):
    """A page of the app with the first example (three_people.jpg) loaded, at 128x96 without the flip test (small
    and fast), the default detector (offline: NanoDet-g) and box threshold."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector("#run", timeout=60_000)
    page.locator("img[src*='three_people']").first.click()
    page.wait_for_selector("#input-image img[src*='three_people']", timeout=30_000)
    page.get_by_label("128x96").check()
    page.get_by_label("Flip test (twice the time)").uncheck()
    return page


@pytest.fixture
def browser():
    """Headless Debian Chromium (Playwright), closed after the test; screenshots go to ``ARTIFACTS``."""
    sync_api = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def test_example_run_shows_the_overlay(launched_app, browser):
    from playwright.sync_api import expect

    from app import state

    page = _open_with_the_first_example(browser, launched_app.url)

    banner = page.inner_text("#untrained-banner") if page.locator("#untrained-banner").count() else ""
    assert ("Untrained weights" in banner) == bool(state.untrained_banner())
    page.click("#run")

    overlay = page.wait_for_selector("#overlay img", timeout=120_000)
    page.wait_for_function("document.querySelector('#timings').innerText.includes('pose')", timeout=60_000)
    assert overlay.get_attribute("src")
    box = overlay.bounding_box()
    assert box and box["width"] > 100 and box["height"] > 50
    assert "3 people shown of" in page.inner_text("#notes")  # astronaut, cameraman and Grace Hopper
    page.screenshot(path=str(ARTIFACTS / "app_browser.png"), full_page=True)

    # draw a box with two clicks on the input image, then run on it
    image = page.locator("#input-image img[src*='three_people']").first
    image.scroll_into_view_if_needed()
    size = image.bounding_box()
    image.click(position={"x": size["width"] * 0.02, "y": size["height"] * 0.3})
    # wait for the first corner to register: a click while the previous event runs is dropped
    page.get_by_text("click the opposite corner").wait_for(timeout=30_000)
    image.click(position={"x": size["width"] * 0.30, "y": size["height"] * 0.7})  # inside the letterboxed picture
    boxes = page.get_by_label("My boxes (x1, y1, x2, y2; one box per 4 numbers)")
    expect(boxes).to_have_value(re.compile(r"^\d+, \d+, \d+, \d+$"), timeout=30_000)
    assert page.get_by_label("my boxes (draw or type below)").is_checked()
    page.click("#run")
    page.wait_for_function("document.querySelector('#timings').innerText.includes('detector boxes')",
                           timeout=120_000)
    assert "1 person shown of 1 found" in page.inner_text("#notes")


def test_what_a_new_user_reads(launched_app, browser):
    """The colour legend, the stale-result warning, and crop views large enough to read (rendered at least 300 px
    tall, not ~128). The screenshots are kept as test-artifacts/app_views_*.png."""
    page = _open_with_the_first_example(browser, launched_app.url)
    page.click("#run")
    page.wait_for_function("document.querySelector('#timings').innerText.includes('pose')", timeout=120_000)
    legend = page.inner_text("#legend")
    assert all(word in legend for word in ("left side", "right side", "torso", "face"))
    page.get_by_label("256x192").check()
    page.wait_for_function("document.querySelector('#timings').innerText.includes('Settings changed')",
                           timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "app_views_stale.png"))
    for tab, image in (("Heatmaps", "#heatmap-crop img"), ("GC attention", "#attention-crop img")):
        page.get_by_role("tab", name=tab).click()
        shown = page.wait_for_selector(image, timeout=60_000)
        shown.scroll_into_view_if_needed()
        box = shown.bounding_box()
        page.screenshot(path=str(ARTIFACTS / f"app_views_{tab.split()[-1].lower()}.png"))
        assert box and box["height"] >= 300, (tab, box)


#: Chromium's synthetic camera (a moving test pattern), granted without a permission prompt.
FAKE_WEBCAM_ARGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


def _start_live_stream(browser, url: str):
    """A new browser context streaming Chromium's fake webcam into the Live tab (128x96, whole-image box)."""
    context = browser.new_context(permissions=["camera"], viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector("#run", timeout=60_000)
    page.get_by_label("128x96").check()
    page.get_by_label("whole image is one person").check()
    page.get_by_role("tab", name="Live webcam").click()
    webcam = page.locator("#live-input")
    webcam.get_by_text("Click to Access Webcam").click()
    webcam.locator("button:visible", has_text="Record").click()
    return context, page


def _processed_frames(page) -> int:
    match = re.search(r"(\d+) processed,", page.inner_text("#live-status"))
    return int(match.group(1)) if match else 0


def test_live_webcam_disconnect_frees_the_stream(monkeypatch):
    """A browser that closes mid-stream frees its live slot, its locks and the network: with one live slot, a
    second browser can stream right after, and nothing is left running once both have gone."""
    import socket
    import threading
    import time

    sync_api = pytest.importorskip("playwright.sync_api")
    from app import handlers, state, streaming
    from app.ui import build_demo, launch

    active = {"now": 0}
    guard = threading.Lock()
    original = handlers.live

    def counted(*args, **kwargs):
        with guard:
            active["now"] += 1
        try:
            return original(*args, **kwargs)
        finally:
            with guard:
                active["now"] -= 1

    monkeypatch.setattr(handlers, "live", counted)
    monkeypatch.setattr(state, "LIVE_SESSIONS", 1)  # one stream at a time: a leaked slot would block the second
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo = build_demo()
    launch(demo, host="127.0.0.1", port=port, quiet=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS + FAKE_WEBCAM_ARGS)
            try:
                first, page = _start_live_stream(browser, url)
                page.wait_for_function("/\\b([3-9]|\\d{2,}) processed,/.test(document.querySelector('#live-status')"
                                       ".innerText)", timeout=120_000)
                first.close()  # disconnect mid-stream

                second, page = _start_live_stream(browser, url)
                page.wait_for_function("/\\b([3-9]|\\d{2,}) processed,/.test(document.querySelector('#live-status')"
                                       ".innerText)", timeout=60_000)
                assert _processed_frames(page) >= 3
                second.close()
            finally:
                browser.close()
        deadline = time.monotonic() + 30
        while active["now"] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert active["now"] == 0, "a live handler is still running after every browser left"
        assert not any(lock.locked() for lock in streaming._session_locks.values())
        assert not any(state.MODELS.model(name).lock.locked() for name in state.MODELS.loaded_names())
    finally:
        demo.close()


def test_video_tab_returns_a_video_that_plays(launched_app, browser, tmp_path):
    """Upload a 12-frame clip (a pan over three_people.jpg at half size, 10 fps) in the Video tab, run it, and play
    the returned <video> in the page: its duration is the clip's and its frames decode (H.264 in Chromium). The
    screenshot is kept as test-artifacts/app_video.png."""
    import cv2

    from hrgcnet.io import load_image
    from hrgcnet.video.synthetic import pan_zoom_transforms, render_clip

    photo = load_image(Path(__file__).resolve().parents[2] / "assets" / "three_people.jpg")
    photo = cv2.resize(photo, (photo.shape[1] // 2, photo.shape[0] // 2), interpolation=cv2.INTER_AREA)
    clip = tmp_path / "pan.mp4"
    render_clip(photo, pan_zoom_transforms(photo.shape[:2], 12), clip, fps=10)

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(launched_app.url, wait_until="domcontentloaded")
    page.wait_for_selector("#run", timeout=60_000)
    page.get_by_label("128x96").check()
    page.get_by_label("Flip test (twice the time)").uncheck()
    page.get_by_label("whole image is one person").check()
    page.get_by_role("tab", name="Video").click()
    page.locator("#video-input input[type=file]").set_input_files(str(clip))
    page.wait_for_selector("#video-input video", timeout=30_000)
    page.click("#video-run")
    page.wait_for_function("document.querySelector('#video-status').innerText.includes('12 of 12 frames')",
                           timeout=120_000)
    played = page.locator("#video-output video").evaluate("""async (video) => {
        video.muted = true;
        if (video.readyState < 1) {
            await new Promise((ok, fail) => { video.onloadedmetadata = ok; video.onerror = fail; });
        }
        await video.play();
        await Promise.race([new Promise((ok) => { video.onended = ok; }),
                            new Promise((ok) => setTimeout(ok, 10000))]);
        const quality = video.getVideoPlaybackQuality();
        return {duration: video.duration, frames: quality.totalVideoFrames, width: video.videoWidth,
                height: video.videoHeight, ended: video.ended, error: video.error && video.error.code};
    }""")
    page.screenshot(path=str(ARTIFACTS / "app_video.png"), full_page=True)
    assert played["error"] is None and played["ended"], played
    assert abs(played["duration"] - 1.2) < 0.15, played
    assert (played["width"], played["height"]) == (photo.shape[1] - photo.shape[1] % 2, photo.shape[0]), played
    assert played["frames"] > 0, played
    assert "1 track" in page.inner_text("#video-status")
