"""Load test of the Gradio app: concurrent ``gradio_client`` clients against a locally started app.

Starts ``python -m app`` on a free loopback port (offline). ``--clients`` clients (users, each its own
session) first send every image once between them, all at once (warm-up); then each sends ``--requests``
``/predict`` calls (plus one ``/redraw`` after each) on random images of the mix: COCO val photos with 0-6
annotated persons and the app's example images (``assets/``), each at long side 160 px, original and 1600 px.
Reports failures, latency percentiles and the server's RSS growth after warm-up, as text and (``--out``) JSON.

Usage::

    .venv/bin/python scripts/loadtest.py                 # 16 clients x 10 requests (docs/reliability.md)
    .venv/bin/python scripts/loadtest.py --smoke         # 3 clients x 2 requests, small settings (the test suite)

Exit status: 0 when there was no failure and the RSS growth stays under ``--max-rss-growth-mb``; 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import CancelledError, ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SHARED = (REPO / ".." / "shared" / "data" / "coco").resolve()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--requests", type=int, default=10, help="requests per client")
    p.add_argument("--smoke", action="store_true", help="3 clients x 2 requests, 128x96 without flip test")
    p.add_argument("--model", default="hrgcnet-w32")
    p.add_argument("--detector", default="auto",
                   help="auto (yolo when its weights are available, else nanodet), yolo, nanodet, ssd or full")
    p.add_argument("--input-size", default="256x192")
    p.add_argument("--no-flip", action="store_true")
    p.add_argument("--max-rss-growth-mb", type=float, default=200.0)
    p.add_argument("--timeout", type=float, default=600.0, help="seconds one request may take")
    p.add_argument("--out", default=None, help="write the report as JSON here")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.smoke:
        args.clients, args.requests, args.input_size, args.no_flip = 3, 2, "128x96", True
    return args


# ------------------------------------------------------------------------------------------------ images

def pick_images(folder: Path, seed: int, sizes: tuple = (160, None, 1600)) -> list[tuple[Path, int]]:
    """``(path, annotated persons or -1)``: COCO val photos with 0..6 persons and the app's examples, each at
    ``sizes`` (long side in pixels; None: original), written into ``folder``."""
    rng = random.Random(seed)
    sources: list[tuple[Path, int]] = []
    ann = SHARED / "val.json"
    if ann.is_file():
        data = json.loads(ann.read_text())
        persons = Counter(a["image_id"] for a in data["annotations"] if not a.get("iscrowd"))
        crowd = {a["image_id"] for a in data["annotations"] if a.get("iscrowd")}
        for n in range(7):
            ids = [im for im in data["images"] if persons[im["id"]] == n and im["id"] not in crowd]
            if ids:
                im = rng.choice(ids)
                sources.append((SHARED / "images" / im["file_name"], n))
    for name in ("three_people.jpg", "astronaut.jpg", "cameraman.jpg", "cat.jpg"):
        if (REPO / "assets" / name).is_file():
            sources.append((REPO / "assets" / name, -1))
    if not sources:
        raise SystemExit("no images found (../shared/data/coco or assets/)")
    out = []
    for path, n in sources:
        with Image.open(path) as im:
            im = im.convert("RGB")
            for long_side in sizes:
                scaled = im if long_side is None else im.resize(
                    (max(1, round(im.width * long_side / max(im.size))), max(1, round(im.height * long_side / max(im.size)))))
                target = folder / f"{path.stem}_{long_side or 'orig'}.jpg"
                scaled.save(target, quality=90)
                out.append((target, n))
    return out


# ------------------------------------------------------------------------------------------------ server

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    """Resident set size of process ``pid`` in MB (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_app(port: int, log_path: Path) -> subprocess.Popen:
    env = dict(os.environ, YOLO_OFFLINE="1", HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False",
               YOLO_AUTOINSTALL="false", PYTHONUNBUFFERED="1")
    log = log_path.open("w")
    proc = subprocess.Popen([sys.executable, "-m", "app", "--host", "127.0.0.1", "--port", str(port)], cwd=REPO,
                            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    import httpx

    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the app exited with {proc.returncode}; see {log_path}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise SystemExit(f"the app did not start within 240 s; see {log_path}")


def stop_app(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


class RssSampler(threading.Thread):
    """Samples the server's RSS every ``every`` seconds: the peak, and the samples as ``(seconds, MB)``."""

    def __init__(self, pid: int, every: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.pid, self.every, self.peak, self._stop_event = pid, every, 0.0, threading.Event()
        self.samples: list[tuple[float, float]] = []

    def run(self) -> None:
        t0 = time.perf_counter()
        while not self._stop_event.is_set():
            try:
                value = rss_mb(self.pid)
            except OSError:
                return
            self.peak = max(self.peak, value)
            self.samples.append((time.perf_counter() - t0, value))
            self._stop_event.wait(self.every)

    def at(self, fraction: float) -> float:
        """RSS at ``fraction`` of the sampled time (nan without samples)."""
        if not self.samples:
            return float("nan")
        end = self.samples[-1][0]
        return next(v for t, v in self.samples if t >= fraction * end)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(5)


# ---------------------------------------------------------------------------------------------- clients

def make_client(url: str, args: argparse.Namespace):
    """One user: a ``gradio_client.Client`` (its own session, hence its own cached results on the server)."""
    from gradio_client import Client

    return Client(url, verbose=False, download_files=False, httpx_kwargs={"timeout": args.timeout})


def one_client(url_or_client, images: list[tuple[Path, int]], n: int, args: argparse.Namespace,
               seed: int) -> list[dict]:
    """``n`` /predict (+ /redraw) calls of one client on random ``images`` (``n < 0``: each image once, in order):
    ``[{"ok", "seconds", "error", "image", "annotated", "persons", "client_retries"}]``."""
    from gradio_client import handle_file

    rng = random.Random(seed)
    client = make_client(url_or_client, args) if isinstance(url_or_client, str) else url_or_client
    records = []
    chosen = list(images) if n < 0 else [rng.choice(images) for _ in range(n)]
    for path, annotated in chosen:
        t0 = time.perf_counter()
        retries: list[str] = []
        try:
            out = _call(client, retries, handle_file(str(path)), args.model, args.input_size, args.detector,
                        not args.no_flip, "", 0.3, 0.5, True, "instance_score", api_name="/predict")
            seconds = time.perf_counter() - t0
            _call(client, retries, 0.2, 0.4, True, "box_score", api_name="/redraw")
            records.append({"ok": True, "seconds": seconds, "error": "", "image": path.name,
                            "annotated": annotated, "persons": len(out[1]["data"]), "client_retries": retries})
        except Exception as exc:  # noqa: BLE001 - every failure is counted and reported
            records.append({"ok": False, "seconds": time.perf_counter() - t0, "error": f"{type(exc).__name__}: {exc}",
                            "image": path.name, "annotated": annotated, "persons": None, "client_retries": retries})
    return records


def _call(client, retries: list[str], *args, api_name: str):
    """``client.predict``; a ``CancelledError`` that gradio_client raises on its own (its SSE reader closed while
    the next event was being submitted; nothing here cancels a job) is retried once and recorded in ``retries``.
    Any other error, and a second CancelledError, is a failure."""
    try:
        return client.predict(*args, api_name=api_name)
    except CancelledError:
        retries.append(api_name)
        return client.predict(*args, api_name=api_name)


def warm_up(clients: list, images: list[tuple[Path, int]], args: argparse.Namespace) -> list[dict]:
    """Every image once, spread over the clients, all at once (``--smoke``: one request), so that every image
    size, the detector, the thread pool and each user's cached results exist before the RSS baseline."""
    if args.smoke:
        return one_client(clients[0], images[:1], -1, args, seed=args.seed + 999)
    groups = [images[i::len(clients)] for i in range(len(clients))]
    with ThreadPoolExecutor(len(clients)) as pool:
        futures = [pool.submit(one_client, c, g, -1, args, args.seed + 999 + i)
                   for i, (c, g) in enumerate(zip(clients, groups)) if g]
        return [r for f in futures for r in f.result()]


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="hrgcnet-loadtest-") as tmp:
        tmp = Path(tmp)
        images = pick_images(tmp, args.seed, (160, None) if args.smoke else (160, None, 1600))
        port = free_port()
        url = f"http://127.0.0.1:{port}/"
        t_start = time.perf_counter()
        proc = start_app(port, tmp / "app.log")
        try:
            start_s = time.perf_counter() - t_start
            rss_start = rss_mb(proc.pid)
            with ThreadPoolExecutor(args.clients) as pool:  # the same users warm up and then load the app
                clients = list(pool.map(lambda _: make_client(url, args), range(args.clients)))
            warm = warm_up(clients, images, args)
            rss_warm = rss_mb(proc.pid)
            sampler = RssSampler(proc.pid)
            sampler.start()
            t0 = time.perf_counter()
            with ThreadPoolExecutor(args.clients) as pool:
                futures = [pool.submit(one_client, c, images, args.requests, args, args.seed + i)
                           for i, c in enumerate(clients)]
                records = [r for f in futures for r in f.result()]
            wall = time.perf_counter() - t0
            sampler.stop()
            rss_end = rss_mb(proc.pid)
            alive = proc.poll() is None
        finally:
            stop_app(proc)
            log_tail = (tmp / "app.log").read_text(errors="replace")[-3000:]
    ok = [r["seconds"] for r in records if r["ok"]]
    failures = [r for r in records if not r["ok"]]
    report = {
        "command": "scripts/loadtest.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "clients": args.clients, "requests_per_client": args.requests, "model": args.model,
        "detector": args.detector, "input_size": args.input_size, "flip_test": not args.no_flip,
        "images": len(images), "requests": len(records), "failures": len(failures),
        "warmup_failures": sum(not r["ok"] for r in warm),
        "latency_s": {"p50": percentile(ok, 50), "p95": percentile(ok, 95), "max": max(ok, default=float("nan")),
                      "mean": statistics.fmean(ok) if ok else float("nan")},
        "throughput_rps": len(ok) / wall if wall > 0 else float("nan"), "wall_s": wall, "app_start_s": start_s,
        "rss_mb": {"start": rss_start, "after_warmup": rss_warm, "half": sampler.at(0.5), "end": rss_end,
                   "peak": sampler.peak, "growth_after_warmup": rss_end - rss_warm,
                   "growth_second_half": rss_end - sampler.at(0.5)},
        "warmup_requests": len(warm),
        "client_retries": sum(len(r["client_retries"]) for r in records + warm),
        "server_alive": alive,
        "persons_found": dict(Counter(r["persons"] for r in records if r["ok"])),
        "errors": sorted({r["error"][:300] for r in failures}),
        "load_average": os.getloadavg(),
    }
    print(f"{report['requests']} requests ({args.clients} clients x {args.requests}), {args.model} {args.input_size} "
          f"flip {'on' if not args.no_flip else 'off'}, detector {args.detector}")
    print(f"failures: {report['failures']} (warm-up: {report['warmup_failures']} of {len(warm)}); server alive: {alive}; "
          f"gradio_client CancelledError retried: {report['client_retries']}")
    lat = report["latency_s"]
    print(f"latency p50 {lat['p50']:.2f} s, p95 {lat['p95']:.2f} s, max {lat['max']:.2f} s; "
          f"throughput {report['throughput_rps']:.2f} req/s over {wall:.1f} s")
    rss = report["rss_mb"]
    print(f"server RSS: start {rss['start']:.0f} MB, after warm-up {rss['after_warmup']:.0f} MB, half-way "
          f"{rss['half']:.0f} MB, end {rss['end']:.0f} MB, peak {rss['peak']:.0f} MB; growth after warm-up "
          f"{rss['growth_after_warmup']:+.0f} MB (second half {rss['growth_second_half']:+.0f} MB)")
    print(f"load average {report['load_average'][0]:.2f} {report['load_average'][1]:.2f} {report['load_average'][2]:.2f}")
    for e in report["errors"]:
        print("error:", e)
    if failures or not alive:
        print("--- app log (tail) ---\n" + log_tail, file=sys.stderr)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(report, indent=1))
    good = not failures and not report["warmup_failures"] and alive and rss["growth_after_warmup"] < args.max_rss_growth_mb
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
