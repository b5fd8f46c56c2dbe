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


def test_example_run_shows_the_overlay(launched_app):
    sync_api = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(launched_app.url, wait_until="domcontentloaded")
            page.wait_for_selector("#run", timeout=60_000)
            assert "Untrained weights" in page.inner_text("#untrained-banner")

            page.locator("img[src*='three_people']").first.click()  # the first example
            page.wait_for_selector("#input-image img[src*='three_people']", timeout=30_000)
            page.get_by_label("128x96").check()  # small and fast
            page.get_by_label("Flip test (twice the time)").uncheck()
            page.get_by_label("SSDLite (offline CPU detector)").check()
            page.click("#run")

            overlay = page.wait_for_selector("#overlay img", timeout=120_000)
            page.wait_for_function("document.querySelector('#timings').innerText.includes('pose')", timeout=60_000)
            assert overlay.get_attribute("src")
            box = overlay.bounding_box()
            assert box and box["width"] > 100 and box["height"] > 50
            assert "person(s) found" in page.inner_text("#notes")
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
            sync_api.expect(boxes).to_have_value(re.compile(r"^\d+, \d+, \d+, \d+$"), timeout=30_000)
            assert page.get_by_label("my boxes (draw or type below)").is_checked()
            page.click("#run")
            page.wait_for_function("document.querySelector('#timings').innerText.includes('detector boxes')",
                                   timeout=120_000)
            assert "1 person(s) found" in page.inner_text("#notes")
        finally:
            browser.close()
