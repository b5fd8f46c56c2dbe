import pytest


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A fresh export cache per test module (each network is exported once, then read from it)."""
    mp = pytest.MonkeyPatch()
    path = tmp_path_factory.mktemp("hrgcnet-cache")
    mp.setenv("HRGCNET_CACHE", str(path))
    yield path
    mp.undo()
