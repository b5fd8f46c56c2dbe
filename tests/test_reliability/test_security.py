"""Safe loading and no hidden network or shell: a static scan of the sources, and the YOLO detector built in a
fresh process with every outbound connection and subprocess recorded."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SOURCES = [p for folder in ("hrgcnet", "app", "pages", "scripts") for p in sorted((REPO / folder).rglob("*.py"))]
SOURCES += [REPO / name for name in ("streamlit_app.py", "spaces_app.py") if (REPO / name).is_file()]

#: Patterns that must not appear in code (comments and docstrings aside): unpickling without weights_only,
#: shell calls, dynamic code.
FORBIDDEN = {
    "pickle.load": re.compile(r"\bpickle\.loads?\("),
    "np.load(allow_pickle=True)": re.compile(r"allow_pickle\s*=\s*True"),
    "yaml.load (unsafe)": re.compile(r"\byaml\.(load|unsafe_load)\("),
    "shell=True": re.compile(r"shell\s*=\s*True"),
    "os.system / os.popen": re.compile(r"\bos\.(system|popen)\("),
    "eval / exec": re.compile(r"(?<![\w.])(eval|exec)\("),
}


def code_lines(path: Path):
    in_doc = False
    for n, line in enumerate(path.read_text().splitlines(), 1):
        stripped = line.strip()
        quotes = stripped.count('"""') + stripped.count("'''")
        if in_doc or stripped.startswith(("#", '"""', "'''")):
            if quotes == 1:
                in_doc = not in_doc
            continue
        yield n, line.split("  #")[0]


def test_sources_were_found():
    assert len(SOURCES) > 30


@pytest.mark.parametrize("name", sorted(FORBIDDEN))
def test_no_unsafe_calls(name):
    pattern = FORBIDDEN[name]
    hits = [f"{p.relative_to(REPO)}:{n}: {line.strip()}" for p in SOURCES for n, line in code_lines(p)
            if pattern.search(line)]
    assert not hits, hits


def test_every_torch_load_is_weights_only():
    hits = []
    for p in SOURCES:
        for n, line in code_lines(p):
            if "torch.load(" in line and "weights_only=True" not in line:
                hits.append(f"{p.relative_to(REPO)}:{n}: {line.strip()}")
    assert not hits, hits


PROBE = textwrap.dedent('''
    import json, os, socket, subprocess, sys
    os.environ.pop("YOLO_AUTOINSTALL", None)
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ["HRGCNET_CACHE"] = sys.argv[1]
    outbound, spawned = [], []
    connect = socket.socket.connect

    def guarded(sock, address):
        host = address[0] if isinstance(address, tuple) else str(address)
        if isinstance(address, tuple) and not (host.startswith("127.") or host in ("localhost", "::1")):
            outbound.append(str(address))
            raise OSError("outbound connection refused by the test")
        return connect(sock, address)

    socket.socket.connect = guarded
    popen_init = subprocess.Popen.__init__

    def recorded(self, args, *a, **k):
        spawned.append(str(args))
        return popen_init(self, args, *a, **k)

    subprocess.Popen.__init__ = recorded
    import warnings
    warnings.simplefilter("ignore")
    from PIL import Image
    original_open = Image.open
    from hrgcnet.detectors import create_detector
    from hrgcnet.errors import ImageError
    from hrgcnet.io import load_image
    import numpy as np
    det = create_detector("yolo")                       # no weights offline: falls back
    yaml_det = create_detector("yolo", weights="yolo11n.yaml", fallback=None)  # ultralytics really imported
    yaml_det(np.zeros((64, 64, 3), np.uint8))
    try:
        load_image(b"RIFF0000HEIC not an image at all")  # ultralytics' Image.open would try to pip-install here
    except ImageError:
        pass
    print(json.dumps({"outbound": outbound, "spawned": spawned, "fallback": det.name, "notes": det.notes,
                      "open_restored": Image.open is original_open,
                      "autoinstall": os.environ.get("YOLO_AUTOINSTALL")}))
''')


def test_yolo_makes_no_network_call_and_no_pip_install(tmp_path):
    pytest.importorskip("ultralytics")
    proc = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path)], cwd=REPO, capture_output=True, text=True,
                          timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["outbound"] == [], report
    assert not [s for s in report["spawned"] if "pip" in s], report
    assert report["fallback"] in ("nanodet", "ssd", "full") and any("unavailable" in n for n in report["notes"])
    assert report["open_restored"] and report["autoinstall"] == "false"
