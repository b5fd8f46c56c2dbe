"""The whole page set: navigation under AppTest, and a real headless server (health check, first visit in Chromium)."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from page_helpers import REPO, TIMEOUT, no_exception


def test_navigation_runs_every_page():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=TIMEOUT).run()
    no_exception(at)
    assert at.title[0].value == "Model zoo & complexity"
    assert 28_536_113 in set(at.dataframe[0].value["params"])
    # not everything is live: the learning curves come from the committed CSV
    assert "except the learning curves" in at.sidebar.caption[0].value
    titles = {"2_architecture.py": "Architecture: HRNet vs HRGCNet", "3_heatmaps.py": "Heatmaps",
              "4_gc_attention.py": "GC attention", "5_evaluation.py": "Evaluation", "6_speed.py": "Speed"}
    for name, title in titles.items():
        at.switch_page(f"pages/{name}").run()
        no_exception(at)
        assert at.title[0].value == title


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    """``streamlit run streamlit_app.py`` headless on a free loopback port; yields the base URL."""
    port = _free_port()
    env = dict(os.environ, STREAMLIT_BROWSER_GATHER_USAGE_STATS="false")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline, body = time.monotonic() + 60, ""
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:
                    body = r.read().decode()
                    break
            except OSError:
                time.sleep(0.5)
        assert body == "ok", f"no health answer; server exit code {proc.poll()}"
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_headless_server_answers_health(server):
    with urllib.request.urlopen(f"{server}/_stcore/health", timeout=5) as r:
        assert r.read().decode() == "ok"
    with urllib.request.urlopen(f"{server}/", timeout=5) as r:
        assert r.status == 200 and "<html" in r.read().decode().lower()


@pytest.mark.browser
def test_first_visit_at_a_page_url_gets_the_app_navigation(server):
    # Streamlit runs a first visit in its legacy pages/ mode; the pages hand over to st.navigation.
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    playwright = pytest.importorskip("playwright.sync_api")
    if chromium is None:
        pytest.skip("no chromium")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.goto(f"{server}/architecture")
            nav = page.get_by_test_id("stSidebarNav")
            nav.get_by_text("Model zoo & complexity").wait_for(timeout=60_000)
            assert "streamlit app" not in nav.inner_text().lower()
            page.get_by_role("heading", name="Architecture: HRNet vs HRGCNet").wait_for(timeout=60_000)
        finally:
            browser.close()
