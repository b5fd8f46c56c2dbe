"""Bad inputs through every Gradio endpoint (``gradio_client`` against the app launched in-process).

Contract: a bad input gives one ``gr.Error`` message (``AppError`` on the client) that says what is wrong,
never a traceback, and the server keeps serving; odd but valid inputs are handled, with a note.
"""

from __future__ import annotations

import time

import pytest

from bad_inputs import image_files

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

FILES = image_files()
#: The files that Gradio's own ``gr.Image`` preprocessing (``PIL.Image.open``, before any handler) cannot open;
#: ``app/ui.py`` wraps its input image in ``app.handlers.readable_uploads`` so these get the library's message.
UNREADABLE_BY_PIL = ("decompression_bomb", "pdf", "random_bytes_jpg", "text_file", "zero_byte")


@pytest.fixture(scope="module")
def app_url():
    """The app built and launched in this process on a free loopback port (closed after the module)."""
    import socket

    from app.ui import build_demo, launch

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo = build_demo()
    launch(demo, host="127.0.0.1", port=port, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


@pytest.fixture(scope="module")
def client(app_url):
    return Client(app_url, verbose=False, download_files=True)


def predict(client, image, *, model="hrgcnet-w32", detector="full", boxes=""):
    return client.predict(handle_file(str(image)), model, "128x96", detector, False, boxes, 0.3, 0.5, True,
                          "instance_score", api_name="/predict")


def app_error(call) -> str:
    with pytest.raises(AppError) as info:
        call()
    text = str(info.value)
    assert "Traceback" not in text and 'File "' not in text
    return text.lower()


@pytest.mark.parametrize("kind", sorted(FILES))
def test_predict_bad_files(kind, client, bad_files):
    path, outcome = bad_files[kind]
    if outcome.ok:
        out = predict(client, path)
        notes = out[3].lower()
        assert " found**" in notes
        assert not outcome.note or outcome.note in notes, notes
    else:
        text = app_error(lambda: predict(client, path)).replace(path.name.lower(), "<file>")
        assert outcome.message in text, text


@pytest.mark.parametrize("boxes, message", [
    ("500, 500, 600, 700", "outside"),
    ("10, 10, 10, 50", "not a valid"),
    ("50, 60, 10, 20", "not a valid"),
    ("1, 2, 3", "4 numbers each"),
    ("nan, 1, 2, 3", "4 numbers each"),
    ("", "needs at least one box"),
])
def test_predict_bad_boxes(boxes, message, client, bad_files):
    path, _ = bad_files["webp"]  # 160x120
    assert message in app_error(lambda: predict(client, path, detector="boxes", boxes=boxes))


def test_predict_unknown_model_and_detector(client, bad_files):
    path, _ = bad_files["webp"]
    # Gradio checks dropdown and radio values against their choices before the handler runs
    assert "hrnet-w99 is not in the list of choices" in app_error(lambda: predict(client, path, model="hrnet-w99"))
    assert "is not in the list of choices: ['auto', 'nanodet'" in app_error(lambda: predict(client, path, detector="nonsense"))
    assert "is not in the list of choices" in app_error(lambda: client.predict("hrnet-w99", api_name="/model_card"))


def test_person_cap_is_applied_with_a_message(client, bad_files, monkeypatch):
    from app import state

    monkeypatch.setattr(state, "MAX_PERSONS", 3)
    path, _ = bad_files["webp"]
    boxes = "; ".join(f"{i}, {i}, {60 + i}, {100 + i}" for i in range(0, 60, 10))
    out = predict(client, path, detector="boxes", boxes=boxes)
    assert "kept the 3 with the highest box scores" in out[3]
    assert len(out[1]["data"]) <= 3


def test_request_time_limit(client, bad_files, monkeypatch):
    """A request over ``REQUEST_TIME_LIMIT_S`` ends with a message; the server keeps serving."""
    from app import state

    path, _ = bad_files["webp"]
    monkeypatch.setattr(state, "REQUEST_TIME_LIMIT_S", 1e-6)
    assert "over the time limit of 1e-06 s" in app_error(lambda: predict(client, path))
    monkeypatch.setattr(state, "REQUEST_TIME_LIMIT_S", 60.0)
    assert " found**" in predict(client, path)[3]


def test_endpoints_before_any_run(app_url):
    fresh = Client(app_url, verbose=False, download_files=True)
    first = "run the model on an image first"
    assert first in app_error(lambda: fresh.predict(0, api_name="/heatmaps"))
    assert first in app_error(lambda: fresh.predict(0, None, api_name="/attention"))
    assert first in app_error(lambda: fresh.predict(0, "left_wrist", "saliency", 4, api_name="/attribution"))
    assert first in app_error(lambda: fresh.predict(None, 0.3, 0.5, api_name="/compare"))
    fresh.predict(0.3, 0.5, True, "instance_score", api_name="/redraw")  # nothing to redraw: outputs left alone
    fresh.predict(0.3, 0.5, api_name="/redraw_compare")


@pytest.fixture(scope="module")
def ran(app_url, bad_files):
    """A client whose session holds a run on a small image."""
    c = Client(app_url, verbose=False, download_files=True)
    predict(c, bad_files["webp"][0])
    return c


@pytest.mark.parametrize("person, message", [(99, "does not exist"), (-1, "does not exist"),
                                             ("abc", "must be a number")])
def test_bad_person_index(person, message, ran):
    assert message in app_error(lambda: ran.predict(person, api_name="/heatmaps"))
    assert message in app_error(lambda: ran.predict(person, None, api_name="/attention"))


def test_bad_block_keypoint_method(ran):
    assert "no gc block named" in app_error(lambda: ran.predict(0, "../../etc/passwd", api_name="/attention"))
    assert "tail is not in the list of choices" in app_error(
        lambda: ran.predict(0, "tail", "saliency", 4, api_name="/attribution"))
    assert "is not in the list of choices: ['integrated_gradients'" in app_error(
        lambda: ran.predict(0, "left_wrist", "magic", 4, api_name="/attribution"))


def test_attribution_time_bound(ran, monkeypatch):
    """Integrated Gradients with absurd steps is cut to the time budget."""
    from app import state

    monkeypatch.setattr(state, "ATTRIBUTION_BUDGET_S", 1.0)
    t0 = time.perf_counter()
    _, text = ran.predict(0, "nose", "integrated_gradients", 32, api_name="/attribution")
    assert time.perf_counter() - t0 < 30
    assert "path point(s)" in text


def test_compare_with_another_image(ran, bad_files):
    assert "input image changed" in app_error(
        lambda: ran.predict(handle_file(str(bad_files["grayscale"][0])), 0.3, 0.5, api_name="/compare"))


def test_upload_over_the_byte_limit_is_refused(app_url, tmp_path):
    """Gradio refuses files over ``max_file_size`` before any handler runs (the library limit, 25 MB)."""
    import httpx

    from app import state

    big = tmp_path / "big.jpg"
    big.write_bytes(b"\xff\xd8" + b"\0" * (state.MAX_UPLOAD_BYTES + 10))
    with big.open("rb") as f:
        r = httpx.post(app_url + "gradio_api/upload", files={"files": ("big.jpg", f, "image/jpeg")}, timeout=60)
    assert r.status_code == 413, r.text[:200]


@pytest.mark.parametrize("path", ["/etc/passwd", "../../../../etc/passwd", "%2e%2e/%2e%2e/etc/passwd",
                                  "/work/main/hrgcnet/io.py"])
def test_no_path_traversal(app_url, path):
    """The file route serves only uploads, outputs and assets/ (allowed_paths), never other files."""
    import httpx

    for prefix in ("gradio_api/file=", "file="):
        r = httpx.get(app_url + prefix + path, timeout=30)
        assert r.status_code in (400, 403, 404), (prefix + path, r.status_code)
        assert "root:" not in r.text and "def load_image" not in r.text


def test_server_still_serves_after_bad_inputs(client, bad_files):
    out = predict(client, bad_files["webp"][0])
    assert " found**" in out[3]


@pytest.mark.parametrize("kind", UNREADABLE_BY_PIL)
def test_upload_image_component_gives_the_library_message(kind, bad_files):
    """``app.handlers.readable_uploads`` (for the input image of ``app/ui.py``) reports unreadable uploads clearly."""
    import gradio as gr
    from gradio.data_classes import ImageData

    from app.handlers import readable_uploads

    path, outcome = bad_files[kind]
    component = readable_uploads(gr.Image(type="filepath", image_mode=None))
    with pytest.raises(gr.Error) as info:
        component.preprocess(ImageData(path=str(path), orig_name=path.name))
    message = str(info.value.message)
    assert message.startswith(path.name + ":") and outcome.message in message.removeprefix(path.name).lower()
    good, _ = bad_files["webp"]
    assert component.preprocess(ImageData(path=str(good), orig_name=good.name)) == str(good)


def test_upload_image_component_over_http(bad_files):
    """``readable_uploads`` in a running Blocks: the client gets the library's message, good files pass."""
    import socket

    import gradio as gr

    from app.handlers import readable_uploads

    with gr.Blocks(analytics_enabled=False) as demo:
        image = readable_uploads(gr.Image(type="filepath", image_mode=None))
        out = gr.Textbox()
        gr.Button().click(lambda p: "ok", [image], [out], api_name="take")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                        ssr_mode=False)
    try:
        c = Client(f"http://127.0.0.1:{port}/", verbose=False)
        path, _ = bad_files["decompression_bomb"]
        text = app_error(lambda: c.predict(handle_file(str(path)), api_name="/take"))
        assert text.startswith("bomb.png: image too large, more than the limit of 50 megapixels"), text
        assert c.predict(handle_file(str(bad_files["webp"][0])), api_name="/take") == "ok"
    finally:
        demo.close()
