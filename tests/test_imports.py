"""Imports point one way (docs/design.md): the library never imports the apps or UI toolkits, and the
models never import codecs or OpenCV."""

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "hrgcnet"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # resolve relative imports against the file's package
                pkg = path.relative_to(PKG.parent).with_suffix("").parts[: -node.level]
                base = ".".join(pkg + ((base,) if base else ()))
            names.add(base)
    return names


@pytest.mark.parametrize("path", sorted(PKG.rglob("*.py")), ids=lambda p: str(p.relative_to(PKG)))
def test_library_does_not_import_apps_or_ui(path):
    bad = {m for m in imported_modules(path) if m.split(".")[0] in {"app", "pages", "gradio", "streamlit"}}
    assert not bad, f"{path} imports {bad}"


@pytest.mark.parametrize("path", sorted((PKG / "models").rglob("*.py")) + sorted((PKG / "layers").rglob("*.py")),
                         ids=lambda p: str(p.relative_to(PKG)))
def test_models_do_not_import_codecs_or_cv2(path):
    bad = {m for m in imported_modules(path) if m.split(".")[0] == "cv2" or m.startswith("hrgcnet.codecs")}
    assert not bad, f"{path} imports {bad}"
