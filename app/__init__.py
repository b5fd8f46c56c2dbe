"""The Gradio app of HRGCNet: a thin layer over :class:`hrgcnet.pipeline.PoseEstimator`.

``python -m app`` launches it (see ``app/__main__.py``); ``spaces_app.py`` at the repository root is the
Hugging Face Spaces entry point. Layout and event wiring live in ``app/ui.py``, the functions the events
call in ``app/handlers.py``, the live webcam in ``app/streaming.py`` and the shared model cache and
per-user results in ``app/state.py``.

Importing this package turns Gradio's analytics and Hugging Face telemetry off (unless the environment
says otherwise) before Gradio is imported, so that starting the app makes no network call.
"""

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("YOLO_VERBOSE", "False")
