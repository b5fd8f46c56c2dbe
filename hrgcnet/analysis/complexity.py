"""Parameter and MAC counts of whole models and of their parts, for the analysis app.

Counting is the library's own (:func:`hrgcnet.models.profile.count_macs`, ``torch.utils.flop_counter``, GFLOPs =
MACs / 2^30, the official HRNet convention), but run on the ``meta`` device: no arithmetic is done, so one
model at 256x192 takes about a second instead of fifteen on a busy CPU, and the counts are identical (a test
checks this against ``count_macs``).

Part names follow the GC attention map names of :mod:`hrgcnet.models.attention`: ``stem``, ``stage1.block0``,
``transition1``, ``stage3.module2.branch0.block1``, ``stage3.module2.fuse``, ``head``. A block with a GC block
is split into ``.body`` (its convolutions) and ``.gc``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from ..layers.blocks import BasicBlock, Bottleneck
from ..layers.lightweight import LightweightBottleneck
from ..models.profile import PAPER_TABLE1
from ..models.registry import create_model, get_spec, list_models

#: GFLOPs convention used everywhere in the app.
GFLOPS_CONVENTION = "GFLOPs = multiply-accumulates / 2^30 (official HRNet convention)"

#: The other methods of the paper's Table I (COCO val, 256x192 unless stated): paper-reported values only.
PAPER_TABLE1_OTHERS: tuple[dict, ...] = (
    {"method": "CPN (ResNet-50)", "input_size": "256x192", "params_m": 27.0, "gflops": 6.2, "ap": 68.6},
    {"method": "SimpleBaseline (ResNet-50)", "input_size": "256x192", "params_m": 34.0, "gflops": 8.9, "ap": 70.4},
    {"method": "SimpleBaseline (ResNet-101)", "input_size": "256x192", "params_m": 53.0, "gflops": 12.4, "ap": 71.4},
    {"method": "SimpleBaseline (ResNet-152)", "input_size": "256x192", "params_m": 68.6, "gflops": 15.7, "ap": 72.0},
    {"method": "TransPose-H-A6", "input_size": "256x192", "params_m": 17.5, "gflops": 21.8, "ap": 75.8},
    {"method": "TokenPose-L/D24", "input_size": "256x192", "params_m": 27.5, "gflops": 11.0, "ap": 75.8},
    {"method": "HRFormer-B", "input_size": "256x192", "params_m": 43.2, "gflops": 12.2, "ap": 75.6},
    {"method": "SimpleBaseline (ResNet-152)", "input_size": "384x288", "params_m": 68.6, "gflops": 35.6, "ap": 74.3},
)

#: Which of our models stands for each paper row of HRNet / HRGCNet.
PAPER_LABELS = {"hrnet-w32": "HRNet-W32", "hrnet-w48": "HRNet-W48",
                "hrgcnet-w32": "HRGCNet-W32", "hrgcnet-w48": "HRGCNet-W48"}


def meta_model(name: str) -> nn.Module:
    """Model ``name`` built on the ``meta`` device (shapes only, no storage), in eval mode."""
    with torch.device("meta"):
        model = create_model(name)
    return model.eval()


def count_macs_meta(model: nn.Module, input_hw: tuple[int, int]) -> tuple[int, dict[str, int]]:
    """MACs of one batch-1 forward of a meta-device ``model``: ``(total, {module path: MACs incl. children})``.

    Module paths are relative to the model (``layer1.0.gc``); ``""`` is the whole model.
    """
    x = torch.zeros(1, 3, *input_hw, device="meta")
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    root = type(model).__name__
    per: dict[str, int] = {}
    for path, ops in counter.get_flop_counts().items():
        if path == "Global":
            continue
        rel = "" if path == root else path[len(root) + 1:]
        per[rel] = sum(ops.values()) // 2
    return counter.get_total_flops() // 2, per


def profile_fast(name: str, input_hw: tuple[int, int]) -> dict:
    """``{"model", "input_size", "params", "macs", "gflops"}`` like ``profile_model``, counted on ``meta``."""
    model = meta_model(name)
    macs, _ = count_macs_meta(model, input_hw)
    return {"model": name, "input_size": f"{input_hw[0]}x{input_hw[1]}",
            "params": sum(p.numel() for p in model.parameters()), "macs": int(macs),
            "gflops": round(macs / 2 ** 30, 3)}


def complexity_table(input_sizes: tuple[tuple[int, int], ...] = ((256, 192), (384, 288)),
                     names: list[str] | None = None, progress=None) -> list[dict]:
    """Measured params / GFLOPs of every model and input size beside the paper's Table I/II values.

    Returns rows ``{"model", "label", "preset", "input_size", "params", "macs", "gflops", "paper_params_m",
    "paper_gflops", "paper_ap", "params_vs_paper_%", "gflops_vs_paper_%"}``; paper fields are None where the
    paper has no row. ``progress(done, total, text)`` is called after each model.
    """
    names = names or list_models()
    jobs = [(n, hw) for hw in input_sizes for n in names]
    rows = []
    for i, (name, hw) in enumerate(jobs):
        rows.append(with_paper(profile_fast(name, hw)))
        if progress is not None:
            progress(i + 1, len(jobs), f"{name} {rows[-1]['input_size']}")
    return rows


def with_paper(row: dict) -> dict:
    """A :func:`profile_fast` row plus ``label``, ``preset`` and the paper's values for that model and input size
    (``paper_params_m``, ``paper_gflops``, ``paper_ap``, ``params_vs_paper_%``, ``gflops_vs_paper_%``; None where
    the paper has no row). The ``-table1`` presets are compared with the paper's HRGCNet rows."""
    spec = get_spec(row["model"])
    paper = PAPER_TABLE1.get((_paper_key(row["model"]), row["input_size"])) or {}
    out = dict(row, label=spec.label, preset=spec.preset or "-", paper_params_m=paper.get("params_m"),
               paper_gflops=paper.get("gflops"), paper_ap=paper.get("ap"))
    out["params_vs_paper_%"] = _rel(row["params"] / 1e6, out["paper_params_m"])
    out["gflops_vs_paper_%"] = _rel(row["gflops"], out["paper_gflops"])
    return out


def _paper_key(name: str) -> str:
    """Paper row of a model: the ``-table1`` presets stand for the same HRGCNet rows."""
    return name.removesuffix("-table1")


def _rel(ours: float, paper: float | None) -> float | None:
    return None if not paper else round(100.0 * (ours - paper) / paper, 2)


def paper_points(input_size: str = "256x192") -> list[dict]:
    """The paper's Table I points at ``input_size`` (Fig. 3): ``{"method", "params_m", "gflops", "ap", "family"}``."""
    out = [{"method": label, "params_m": v["params_m"], "gflops": v["gflops"], "ap": v["ap"],
            "family": "HRGCNet" if name.startswith("hrgcnet") else "HRNet"}
           for (name, size), v in PAPER_TABLE1.items() if size == input_size
           for label in [PAPER_LABELS[name]]]
    out += [dict(r, family="other") for r in PAPER_TABLE1_OTHERS if r["input_size"] == input_size]
    for r in out:
        r.pop("input_size", None)
    return out


# -------------------------------------------------------------------------------------------- breakdown

@dataclass(frozen=True)
class Part:
    """One node of the breakdown tree: ``id`` (``stage2.module0.branch0.block3.gc``), ``parent`` (``""`` for
    the root ``model``), ``label``, ``params`` and ``macs`` (totals over the subtree)."""

    id: str
    parent: str
    label: str
    params: int
    macs: int


def part_of(module_path: str, has_gc: set[str]) -> str:
    """Breakdown leaf of an official module path (``stage3.1.branches.0.2.gc.conv_mask`` ->
    ``stage3.module1.branch0.block2.gc``). ``has_gc`` holds the module paths of blocks with a GC block."""
    parts = module_path.split(".") if module_path else []
    if not parts or parts[0] in ("conv1", "bn1", "conv2", "bn2", "relu"):
        return "stem"
    head = parts[0]
    if head == "final_layer":
        return "head"
    if head.startswith("transition"):
        return head
    if head == "layer1":
        if len(parts) < 2:
            return "stage1"
        block = f"stage1.block{parts[1]}"
        return block + _block_suffix(parts[2:], ".".join(parts[:2]) in has_gc)
    if head.startswith("stage"):
        if len(parts) < 2:
            return head
        module = f"{head}.module{parts[1]}"
        if len(parts) >= 3 and parts[2] == "fuse_layers":
            return f"{module}.fuse"
        if len(parts) >= 5 and parts[2] == "branches":
            block = f"{module}.branch{parts[3]}.block{parts[4]}"
            return block + _block_suffix(parts[5:], ".".join(parts[:5]) in has_gc)
        if len(parts) >= 4 and parts[2] == "branches":
            return f"{module}.branch{parts[3]}"
        return module
    return head


def _block_suffix(rest: list[str], has_gc: bool) -> str:
    if not has_gc:
        return ""
    return ".gc" if rest and rest[0] == "gc" else ".body"


def breakdown(model: nn.Module, input_hw: tuple[int, int]) -> list[Part]:
    """Params and MACs of every part of ``model`` (meta device or not) as a tree, for a treemap or sunburst.

    Leaves are the stem, stage-1 blocks, transitions, stage-2..4 blocks and fuse layers, the head; blocks with
    a GC block get ``.body`` and ``.gc`` leaves. Parents sum their children; the root ``model`` holds the
    totals. Returned parents before children.
    """
    if next(model.parameters()).device.type != "meta":
        model = _to_meta_copy(model)
    _, per = count_macs_meta(model, input_hw)
    has_gc = {path for path, m in model.named_modules()
              if isinstance(m, (BasicBlock, Bottleneck)) and getattr(m, "gc", None) is not None}
    # self MACs of each counted module = its total minus its nearest counted descendants'
    counted = sorted(per)
    self_macs = dict(per)
    for path in counted:
        if not path:
            continue
        parent = _nearest_counted_ancestor(path, per)
        self_macs[parent] -= per[path]
    leaf_params: dict[str, int] = defaultdict(int)
    leaf_macs: dict[str, int] = defaultdict(int)
    for name, p in model.named_parameters():
        leaf_params[part_of(name.rsplit(".", 1)[0], has_gc)] += p.numel()
    for path, macs in self_macs.items():
        if macs:
            leaf_macs[part_of(path, has_gc)] += macs
    totals_p: dict[str, int] = defaultdict(int)
    totals_m: dict[str, int] = defaultdict(int)
    for leaf in set(leaf_params) | set(leaf_macs):
        for node in _ancestors(leaf):
            totals_p[node] += leaf_params.get(leaf, 0)
            totals_m[node] += leaf_macs.get(leaf, 0)
    nodes = sorted(totals_p, key=lambda n: (n != "model", n.count("."), _natural(n)))
    return [Part(id=n, parent=_parent(n), label=n.rsplit(".", 1)[-1], params=totals_p[n], macs=totals_m[n])
            for n in nodes]


def _to_meta_copy(model: nn.Module) -> nn.Module:
    import copy

    return copy.deepcopy(model).to("meta").eval()


def _nearest_counted_ancestor(path: str, per: dict[str, int]) -> str:
    parts = path.split(".")
    for i in range(len(parts) - 1, 0, -1):
        candidate = ".".join(parts[:i])
        if candidate in per:
            return candidate
    return ""


def _ancestors(leaf: str) -> list[str]:
    parts = leaf.split(".")
    return ["model"] + [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def _parent(node: str) -> str:
    if node == "model":
        return ""
    return node.rsplit(".", 1)[0] if "." in node else "model"


def _natural(node: str) -> list:
    import re

    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", node)]


def stage_summary(parts: list[Part]) -> list[dict]:
    """Top-level rows (stem, stage1, transition1, stage2, ..., head): ``{"part", "params", "macs", "gflops",
    "params_%", "macs_%"}`` in forward order."""
    root = next(p for p in parts if p.id == "model")
    order = ["stem", "stage1", "transition1", "stage2", "transition2", "stage3", "transition3", "stage4", "head"]
    by_id = {p.id: p for p in parts}
    return [{"part": n, "params": by_id[n].params, "macs": by_id[n].macs, "gflops": round(by_id[n].macs / 2 ** 30, 4),
             "params_%": round(100 * by_id[n].params / root.params, 2),
             "macs_%": round(100 * by_id[n].macs / root.macs, 2)}
            for n in order if n in by_id]


# ------------------------------------------------------------------------------------------ block map

def block_map(model: nn.Module) -> list[dict]:
    """Every residual block of ``model`` with where it sits and what it is.

    Returns rows ``{"block", "stage", "module", "branch", "index", "kind", "gc_ratio", "channels",
    "resolution"}``: ``kind`` is ``Bottleneck``, ``LightweightBottleneck`` or ``BasicBlock``; ``resolution`` is
    the branch's stride relative to the input (4, 8, 16, 32); ``gc_ratio`` None without a GC block.
    """
    rows = []
    for path, m in model.named_modules():
        if not isinstance(m, (BasicBlock, Bottleneck)):
            continue
        parts = path.split(".")
        gc = getattr(m, "gc", None)
        if parts[0] == "layer1":
            stage, module, branch, index = 1, 0, 0, int(parts[1])
            name = f"stage1.block{index}"
        else:
            stage, module, branch, index = int(parts[0][5:]), int(parts[1]), int(parts[3]), int(parts[4])
            name = f"stage{stage}.module{module}.branch{branch}.block{index}"
        kind = ("LightweightBottleneck" if isinstance(m, LightweightBottleneck)
                else "Bottleneck" if isinstance(m, Bottleneck) else "BasicBlock")
        channels = m.conv3.out_channels if isinstance(m, Bottleneck) else m.conv2.out_channels
        rows.append({"block": name, "stage": stage, "module": module, "branch": branch, "index": index,
                     "kind": kind, "gc_ratio": None if gc is None else gc.ratio, "channels": channels,
                     "resolution": 4 * 2 ** branch})
    return rows
