"""Page tests: each page file runs alone under ``streamlit.testing.v1.AppTest``, offline."""

from __future__ import annotations

import os

import pytest

from page_helpers import REPO, TIMEOUT

os.environ.setdefault("STREAMLIT_BROWSER_GATHER_USAGE_STATS", "false")


@pytest.fixture
def page():
    """``page("1_model_zoo.py")`` -> an AppTest of that page file (not yet run)."""
    from streamlit.testing.v1 import AppTest

    def make(name: str) -> AppTest:
        return AppTest.from_file(str(REPO / "pages" / name), default_timeout=TIMEOUT)

    return make
