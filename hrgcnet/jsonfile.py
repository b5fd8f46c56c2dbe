"""Reading user-supplied JSON files with one clear error for a missing or malformed file."""

from __future__ import annotations

import json
from pathlib import Path

from .errors import DatasetError, HRGCNetError


def read_json(path: str | Path, what: str, error: type[HRGCNetError] = DatasetError):
    """The parsed content of ``path``; ``error("<what> not found: ...")`` or ``error("<what> ... is not valid JSON")``."""
    path = Path(path)
    if not path.is_file():
        raise error(f"{what} not found: {path}")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise error(f"{what} {path} is not valid JSON: {exc}") from None
