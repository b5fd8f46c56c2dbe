"""Hugging Face Spaces entry point (README front matter: ``app_file: spaces_app.py``).

Builds and launches the same app as ``python -m app``. Spaces sets ``GRADIO_SERVER_NAME=0.0.0.0`` and
``GRADIO_SERVER_PORT``/``PORT``; online, the ``yolo`` detector may download its weights, offline the app
falls back to the offline detectors and the committed pose weights.
"""

import os

from app.ui import build_demo, launch

demo = build_demo()

if __name__ == "__main__":
    port = os.environ.get("GRADIO_SERVER_PORT") or os.environ.get("PORT") or "7860"
    launch(demo, host=os.environ.get("GRADIO_SERVER_NAME", "0.0.0.0"), port=int(port), block=True)
