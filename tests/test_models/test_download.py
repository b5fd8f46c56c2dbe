"""Official-weights download against a loopback HTTP server serving an mmpose-format checkpoint we make."""

import functools
import hashlib
import http.server
import threading

import pytest
import torch

from hrgcnet.cli import main
from hrgcnet.errors import DownloadError
from hrgcnet.models import create_model
from hrgcnet.models.download import OFFICIAL_WEIGHTS, download_official


@pytest.fixture()
def served(tmp_path, monkeypatch):
    """A loopback server whose folder holds what the test puts there; the cache is a temp dir."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("HRGCNET_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HRGCNET_WEIGHTS_BASE_URL", f"http://127.0.0.1:{server.server_address[1]}/mmpose")
    (root / "mmpose").mkdir()
    yield root / "mmpose"
    server.shutdown()


def mmpose_file(folder, entry, model, hash_ok=True):
    sd = {("head.final_layer." + k[12:]) if k.startswith("final_layer.") else "backbone." + k: v
          for k, v in model.state_dict().items()}
    tmp = folder / "tmp.pth"
    torch.save({"meta": {"mmpose_version": "0.x"}, "state_dict": sd}, tmp)
    digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
    # Name the entry after the file's real hash, as OpenMMLab does.
    entry_url = entry.url.replace(entry.hash_prefix, digest[:8] if hash_ok else "00000000")
    tmp.rename(folder / entry_url.rsplit("/", 1)[1])
    return entry_url


def test_download_verifies_converts_and_loads(served, monkeypatch):
    torch.manual_seed(3)
    model = create_model("hrnet-w32")
    entry = OFFICIAL_WEIGHTS["hrnet-w32-coco"]
    url = mmpose_file(served, entry, model)
    monkeypatch.setitem(OFFICIAL_WEIGHTS, "hrnet-w32-coco", type(entry)(entry.model, entry.input_size, url, entry.ap))
    path = download_official("hrnet-w32-coco", progress=False)
    loaded = create_model("hrnet-w32", weights=path)
    for k, v in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v), k
    assert download_official("hrnet-w32-coco", progress=False) == path  # cached: no second download


def test_hash_mismatch_is_refused(served, monkeypatch):
    entry = OFFICIAL_WEIGHTS["hrnet-w32-coco"]
    url = mmpose_file(served, entry, create_model("hrnet-w32"), hash_ok=False)
    monkeypatch.setitem(OFFICIAL_WEIGHTS, "hrnet-w32-coco", type(entry)(entry.model, entry.input_size, url, entry.ap))
    with pytest.raises(DownloadError, match="does not match"):
        download_official("hrnet-w32-coco", progress=False)


def test_offline_fails_fast_with_a_clear_message(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HRGCNET_CACHE", str(tmp_path))
    monkeypatch.setenv("HRGCNET_WEIGHTS_BASE_URL", "http://127.0.0.1:9/none")  # discard port: refused at once
    assert main(["weights", "download", "hrnet-w48-coco", "--timeout", "5"]) == 2
    err = capsys.readouterr().err
    assert "cannot download" in err and "offline" in err
    assert not list(tmp_path.glob("*.part"))


def test_an_incomplete_cached_file_is_not_cached(served, monkeypatch, capsys):
    """A conversion killed midway leaves nothing that looks cached; a truncated file (from before writes were
    atomic) is listed as incomplete and downloaded again."""
    import hrgcnet.models.weights as weights_module
    from hrgcnet.models.download import cached_path

    torch.manual_seed(4)
    model = create_model("hrnet-w32")
    entry = OFFICIAL_WEIGHTS["hrnet-w32-coco"]
    url = mmpose_file(served, entry, model)
    monkeypatch.setitem(OFFICIAL_WEIGHTS, "hrnet-w32-coco", type(entry)(entry.model, entry.input_size, url, entry.ap))
    real_save_file = weights_module.save_file

    def killed(tensors, filename, metadata=None):
        with open(filename, "wb") as f:
            f.write(b"\x00" * 100)
        raise KeyboardInterrupt

    monkeypatch.setattr(weights_module, "save_file", killed)
    with pytest.raises(KeyboardInterrupt):
        download_official("hrnet-w32-coco", progress=False)
    monkeypatch.setattr(weights_module, "save_file", real_save_file)
    out = cached_path("hrnet-w32-coco")
    assert not out.exists()
    assert main(["weights", "list"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("hrnet-w32-coco "))
    assert line.endswith("not downloaded"), line
    path = download_official("hrnet-w32-coco", progress=False)
    good = path.read_bytes()
    path.write_bytes(good[: len(good) // 2])  # truncated
    assert main(["weights", "list"]) == 0
    assert f"incomplete file at {path}" in capsys.readouterr().out
    assert download_official("hrnet-w32-coco", progress=False) == path
    assert path.stat().st_size == len(good)  # converted again, complete
    loaded = create_model("hrnet-w32", weights=path)
    for k, v in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v), k
