"""The app's limits hold under concurrent requests: at most ``INFERENCE_CONCURRENCY`` inference events at
once, and a full queue refuses new events with a message (the server keeps serving)."""

from __future__ import annotations

import functools
import socket
import threading
import time

import pytest

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402


@pytest.fixture(scope="module")
def small_queue_app(bad_files):
    """The app with a queue of 2 and a predict handler that records how many calls run at once."""
    from app import handlers, state
    from app.ui import build_demo, launch

    counter = {"now": 0, "max": 0}
    lock = threading.Lock()
    original = handlers.predict

    @functools.wraps(original)
    def counted(*args, **kwargs):
        with lock:
            counter["now"] += 1
            counter["max"] = max(counter["max"], counter["now"])
        try:
            time.sleep(1.0)  # long enough for the requests to overlap, even on a busy machine
            return original(*args, **kwargs)
        finally:
            with lock:
                counter["now"] -= 1

    mp = pytest.MonkeyPatch()
    mp.setattr(handlers, "predict", counted)
    mp.setattr(state, "QUEUE_MAX_SIZE", 2)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo = build_demo()
    launch(demo, host="127.0.0.1", port=port, quiet=True)
    mp.undo()
    yield f"http://127.0.0.1:{port}/", counter
    demo.close()


def test_queue_and_concurrency_limits(small_queue_app, bad_files):
    from app import state

    url, counter = small_queue_app
    path = str(bad_files["webp"][0])
    clients = [Client(url, verbose=False, download_files=False) for _ in range(6)]
    jobs = [c.submit(handle_file(path), "hrgcnet-w32", "128x96", "full", False, "", 0.3, 0.5, True,
                     "instance_score", api_name="/predict") for c in clients]
    done, refused = 0, []
    for job in jobs:
        try:
            job.result(timeout=120)
            done += 1
        except Exception as exc:  # noqa: BLE001 - a refused event
            refused.append(str(exc))
    assert counter["max"] <= state.INFERENCE_CONCURRENCY
    assert done >= 1 and refused, (done, refused)
    assert all("queue is full" in r.lower() for r in refused), refused
    # the server keeps serving
    out = clients[0].predict(handle_file(path), "hrgcnet-w32", "128x96", "full", False, "", 0.3, 0.5, True,
                             "instance_score", api_name="/predict")
    assert " found**" in out[3]
