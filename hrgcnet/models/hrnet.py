"""HRNet for top-down pose estimation (Sun et al., CVPR 2019), structure and state-dict names identical
to the official ``pose_hrnet.py`` (leoxiaobin/deep-high-resolution-net.pytorch), so official
checkpoints load with ``strict=True``.

Stem: two stride-2 3x3 convs (3->64->64); stage 1 (``layer1``): four Bottlenecks 64->256;
``transition1..3`` open the branches; stages 2-4 have 1/4/3 modules of 4 BasicBlocks per branch with
W, 2W, 4W, 8W channels and repeated multi-scale fusion; ``final_layer`` is a 1x1 conv to the heatmaps at
1/4 of the input resolution.

Shapes: ``(N, 3, H, W)`` -> ``(N, num_keypoints, H/4, W/4)``, H and W multiples of 32.

HRGCNet reuses this class: ``stage1_block`` and the per-stage, per-branch ``gc_ratios`` place the
lightweight bottlenecks and GC blocks (see :mod:`hrgcnet.models.hrgcnet`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..layers.blocks import BasicBlock, Bottleneck, batch_norm, conv1x1, conv3x3
from ..layers.gc_block import GlobalContextBlock

#: Per-branch GC ratio of one stage (None: no GC block in that branch).
BranchRatios = Sequence[float | None]


class HighResolutionModule(nn.Module):
    """Parallel branches of BasicBlocks followed by multi-scale fusion.

    Input and output: a list of ``num_branches`` tensors ``(N, C_i, H/2^i, W/2^i)``; with
    ``multi_scale_output=False`` only the highest-resolution output is produced.
    """

    def __init__(self, num_branches: int, num_blocks: Sequence[int], num_channels: Sequence[int],
                 multi_scale_output: bool = True, gc_ratios: BranchRatios | None = None) -> None:
        super().__init__()
        if not (len(num_blocks) == len(num_channels) == num_branches):
            raise ValueError(f"HighResolutionModule: num_branches={num_branches} but num_blocks={list(num_blocks)} "
                             f"and num_channels={list(num_channels)}")
        gc_ratios = list(gc_ratios) if gc_ratios is not None else [None] * num_branches
        if len(gc_ratios) != num_branches:
            raise ValueError(f"gc_ratios needs {num_branches} entries, got {gc_ratios}")
        self.num_branches = num_branches
        self.num_inchannels = list(num_channels)
        self.multi_scale_output = multi_scale_output
        self.branches = nn.ModuleList(
            nn.Sequential(*[BasicBlock(num_channels[i], num_channels[i], gc_ratio=gc_ratios[i])
                            for _ in range(num_blocks[i])])
            for i in range(num_branches)
        )
        self.fuse_layers = self._make_fuse_layers()
        self.relu = nn.ReLU(inplace=True)

    def _make_fuse_layers(self) -> nn.ModuleList | None:
        if self.num_branches == 1:
            return None
        ch = self.num_inchannels
        fuse_layers = []
        for i in range(self.num_branches if self.multi_scale_output else 1):
            fuse_layer: list[nn.Module | None] = []
            for j in range(self.num_branches):
                if j > i:  # lower resolution -> 1x1 conv + BN, nearest upsample
                    fuse_layer.append(nn.Sequential(conv1x1(ch[j], ch[i]), batch_norm(ch[i]),
                                                    nn.Upsample(scale_factor=2 ** (j - i), mode="nearest")))
                elif j == i:
                    fuse_layer.append(None)
                else:  # higher resolution -> chain of stride-2 3x3 convs
                    steps: list[nn.Module] = []
                    for k in range(i - j):
                        if k == i - j - 1:
                            steps.append(nn.Sequential(conv3x3(ch[j], ch[i], stride=2), batch_norm(ch[i])))
                        else:
                            steps.append(nn.Sequential(conv3x3(ch[j], ch[j], stride=2), batch_norm(ch[j]),
                                                       nn.ReLU(inplace=False)))
                    fuse_layer.append(nn.Sequential(*steps))
            fuse_layers.append(nn.ModuleList(fuse_layer))
        return nn.ModuleList(fuse_layers)

    def forward(self, x: list[torch.Tensor]) -> list[torch.Tensor]:
        if self.num_branches == 1:
            return [self.branches[0](x[0])]
        x = [branch(xi) for branch, xi in zip(self.branches, x)]
        out = []
        for i, fuse in enumerate(self.fuse_layers):
            y = x[0] if i == 0 else fuse[0](x[0])
            for j in range(1, self.num_branches):
                y = y + (x[j] if i == j else fuse[j](x[j]))
            out.append(self.relu(y))
        return out


def _make_transition(pre: Sequence[int], cur: Sequence[int]) -> nn.ModuleList:
    """Official ``_make_transition_layer``: adapt kept branches, open new ones by stride-2 3x3 convs."""
    layers: list[nn.Module | None] = []
    for i in range(len(cur)):
        if i < len(pre):
            if cur[i] != pre[i]:
                layers.append(nn.Sequential(conv3x3(pre[i], cur[i]), batch_norm(cur[i]), nn.ReLU(inplace=True)))
            else:
                layers.append(None)
        else:
            steps = []
            for j in range(i + 1 - len(pre)):
                out_ch = cur[i] if j == i - len(pre) else pre[-1]
                steps.append(nn.Sequential(conv3x3(pre[-1], out_ch, stride=2), batch_norm(out_ch), nn.ReLU(inplace=True)))
            layers.append(nn.Sequential(*steps))
    return nn.ModuleList(layers)


class PoseHighResolutionNet(nn.Module):
    """HRNet pose network (official ``PoseHighResolutionNet``) with optional GC placement.

    Args:
        width: W, channels of the highest-resolution branch (32 or 48 in the paper).
        num_keypoints: heatmap channels (17 for COCO).
        stage1_block: the block class of stage 1 (``Bottleneck``, or ``LightweightBottleneck`` for HRGCNet).
        stage1_gc_ratio: GC ratio in the stage-1 blocks (None: no GC block).
        gc_ratios: ``{stage: per-branch ratios}`` for stages 2-4, e.g. ``{2: [0.25, None]}``; a missing stage
            has no GC blocks.
    """

    NUM_MODULES = {2: 1, 3: 4, 4: 3}
    NUM_BLOCKS = 4

    def __init__(self, width: int = 32, num_keypoints: int = 17, stage1_block: type[Bottleneck] = Bottleneck,
                 stage1_gc_ratio: float | None = None, gc_ratios: dict[int, BranchRatios] | None = None) -> None:
        super().__init__()
        gc_ratios = dict(gc_ratios or {})
        if set(gc_ratios) - {2, 3, 4}:
            raise ValueError(f"gc_ratios keys must be stages 2, 3, 4; got {sorted(gc_ratios)}")
        self.width = width
        self.num_keypoints = num_keypoints
        self.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=2, padding=1, bias=False)
        self.bn1 = batch_norm(64)
        self.conv2 = nn.Conv2d(64, 64, kernel_size=3, stride=2, padding=1, bias=False)
        self.bn2 = batch_norm(64)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = self._make_layer1(stage1_block, stage1_gc_ratio)

        channels = {s: [width * 2 ** b for b in range(s)] for s in (2, 3, 4)}
        self.transition1 = _make_transition([256], channels[2])
        self.stage2 = self._make_stage(2, channels[2], gc_ratios.get(2))
        self.transition2 = _make_transition(channels[2], channels[3])
        self.stage3 = self._make_stage(3, channels[3], gc_ratios.get(3))
        self.transition3 = _make_transition(channels[3], channels[4])
        self.stage4 = self._make_stage(4, channels[4], gc_ratios.get(4), multi_scale_output=False)
        self.final_layer = nn.Conv2d(width, num_keypoints, kernel_size=1)
        self._name_gc_blocks()
        self.init_weights()

    @staticmethod
    def _make_layer1(block: type[Bottleneck], gc_ratio: float | None) -> nn.Sequential:
        planes, inplanes = 64, 64
        downsample = nn.Sequential(conv1x1(inplanes, planes * block.expansion), batch_norm(planes * block.expansion))
        layers = [block(inplanes, planes, downsample=downsample, gc_ratio=gc_ratio)]
        layers += [block(planes * block.expansion, planes, gc_ratio=gc_ratio) for _ in range(3)]
        return nn.Sequential(*layers)

    def _make_stage(self, stage: int, channels: list[int], gc_ratios: BranchRatios | None,
                    multi_scale_output: bool = True) -> nn.Sequential:
        num_modules = self.NUM_MODULES[stage]
        modules = [
            HighResolutionModule(stage, [self.NUM_BLOCKS] * stage, channels,
                                 multi_scale_output=multi_scale_output or i < num_modules - 1, gc_ratios=gc_ratios)
            for i in range(num_modules)
        ]
        return nn.Sequential(*modules)

    def _name_gc_blocks(self) -> None:
        """Give every GC block a readable path: ``stage1.block0``, ``stage3.module2.branch0.block1``."""
        for path, module in self.named_modules():
            if not isinstance(module, GlobalContextBlock):
                continue
            parts = path.split(".")
            if parts[0] == "layer1":
                module.block_name = f"stage1.block{parts[1]}"
            else:  # stageS.M.branches.B.K.gc
                module.block_name = f"{parts[0]}.module{parts[1]}.branch{parts[3]}.block{parts[4]}"

    def init_weights(self) -> None:
        """He-normal convs (training from scratch), unit BN, heatmap head N(0, 0.001) as official.

        GC blocks keep their own init (last conv zero: identity at start).
        """
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.BatchNorm2d, nn.LayerNorm)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        for m in self.modules():
            if isinstance(m, GlobalContextBlock):
                m.reset_parameters()
        nn.init.normal_(self.final_layer.weight, std=0.001)
        nn.init.zeros_(self.final_layer.bias)

    @staticmethod
    def _transit(transition: nn.ModuleList, y_list: list[torch.Tensor]) -> list[torch.Tensor]:
        # Official rule: new branches are opened from the lowest-resolution output.
        return [y_list[i] if t is None else t(y_list[-1]) for i, t in enumerate(transition)]

    #: the submodules :meth:`forward_stem` runs; :meth:`forward_body` runs the others but the final layer
    STEM_MODULES = ("conv1", "bn1", "conv2", "bn2")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.final_layer(self.forward_body(self.forward_stem(x)))

    def forward_stem(self, x: torch.Tensor) -> torch.Tensor:
        """The stem, two stride-2 3x3 convolutions: ``(N, 3, H, W)`` -> ``(N, 64, H/4, W/4)``."""
        if x.ndim != 4 or x.shape[1] != 3 or x.shape[2] % 32 or x.shape[3] % 32:
            raise ValueError(f"expected input (N, 3, H, W) with H, W multiples of 32, got {tuple(x.shape)}")
        x = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(x)))

    def forward_body(self, x: torch.Tensor) -> torch.Tensor:
        """Stages 1-4: the stem's output ``(N, 64, H/4, W/4)`` -> the highest-resolution branch's features
        ``(N, C, H/4, W/4)`` (C = the width, 32 for W32), which the final layer (a 1x1 convolution) turns into
        heatmaps."""
        x = self.layer1(x)
        y_list = self.stage2([t(x) if t is not None else x for t in self.transition1])
        y_list = self.stage3(self._transit(self.transition2, y_list))
        y_list = self.stage4(self._transit(self.transition3, y_list))
        return y_list[0]
