"""Deploy the working tree to a Hugging Face Space: ``python -m app.deploy USER/SPACE [--dry-run]``.

A ``git push`` of this repository to a Space is refused (the Hub takes files over 10 MB only through LFS/Xet, and
the committed weights are 28 MB each in the history). ``huggingface_hub``'s ``upload_folder`` moves large files by
LFS/Xet itself and uploads only the working tree's files, so this uploads exactly :func:`space_files`: the files
git tracks that the Space runs (the README with the Space's front matter, ``spaces_app.py``, the requirements,
``app/``, ``hrgcnet/`` with its weights, ``assets/``) and nothing else: no tests, docs, scripts, caches or data.
Needs a token with write access (``HF_TOKEN`` or ``huggingface-cli login``) and a network; offline
(``HF_HUB_OFFLINE=1``) it stops at once with a message.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: Top-level files and folders the Space needs (everything else stays home).
SPACE_PATHS = ("README.md", "LICENSE", "spaces_app.py", "requirements.txt", "constraints.txt", "app/", "hrgcnet/",
               "assets/")
#: Never uploaded even inside those folders.
EXCLUDED_SUFFIXES = (".pyc",)


def space_files(repo: Path = REPO) -> list[str]:
    """The tracked files under :data:`SPACE_PATHS`, as repository-relative POSIX paths, sorted."""
    try:
        tracked = subprocess.run(["git", "ls-files", "-z"], cwd=repo, check=True, capture_output=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise SystemExit(f"deploy: cannot list the tracked files of {repo} (is it a git checkout?): {exc}") from None
    files = [name for name in tracked.decode().split("\0") if name]
    keep = [f for f in files if any(f == p or (p.endswith("/") and f.startswith(p)) for p in SPACE_PATHS)]
    return sorted(f for f in keep if not f.endswith(EXCLUDED_SUFFIXES) and (repo / f).is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.deploy", description=__doc__.split("\n\n")[0])
    parser.add_argument("space", help="the Space, USER/NAME (created as a Gradio Space if missing)")
    parser.add_argument("--dry-run", action="store_true", help="list the files and their total size, upload nothing")
    parser.add_argument("--private", action="store_true", help="create the Space private")
    args = parser.parse_args(argv)
    files = space_files()
    size = sum((REPO / f).stat().st_size for f in files)
    print(f"{len(files)} files, {size / 2**20:.1f} MiB")
    if args.dry_run:
        print("\n".join(files))
        return 0
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        print("deploy: HF_HUB_OFFLINE is set: uploading needs the network", file=sys.stderr)
        return 2
    from huggingface_hub import HfApi

    api = HfApi()
    api.create_repo(args.space, repo_type="space", space_sdk="gradio", private=args.private, exist_ok=True)
    api.upload_folder(folder_path=str(REPO), repo_id=args.space, repo_type="space", allow_patterns=files,
                      commit_message="Deploy from the working tree (python -m app.deploy)")
    print(f"uploaded to https://huggingface.co/spaces/{args.space}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
