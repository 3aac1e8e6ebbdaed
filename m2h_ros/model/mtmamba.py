"""The MTMamba decoder (ECCV 2024): three stages of ECR → 2 × STM per task → one joint CTM.

ECR: PatchExpand (×2 resolution, ½ channels) → concatenate the backbone skip → Linear reduce.
STM: x + DropPath(SS2D(LN(x))), one per task. CTM (feature-level, "F-CTM"): a shared SS2D over the
concatenated task features, gated per task against each task's own SS2D. Each task ends with a ×4
patch expansion and a 1×1 conv (MTMamba's DenseHead). Features are channels-last inside.

With the paper's Swin-L features (192@/4, 384@/8, 768@/16, 1536@/32) this is the released decoder
(112.80 M parameters for NYUDv2's four tasks). With DINOv2, the four MSTR reassembly levels
(E/8@4h, E/4@2h, E/2@h, E@h/2) take the place of Swin's stages: the same channel doubling, at a
stride-14 token grid instead of a stride-4 patch grid; odd grids are cropped after each ×2 expansion.
"""

from __future__ import annotations

import torch
from timm.layers import DropPath
from torch import nn

from m2h_ros.model.ss2d import SS2D


class PatchExpand(nn.Module):
    """(B, H, W, C) -> (B, s·H, s·W, C·2/s²): Linear expansion, pixel shuffle, LayerNorm (×2 or ×4)."""

    def __init__(self, dim: int, scale: int = 2):
        super().__init__()
        out = dim // 2 if scale == 2 else dim
        self.expand = nn.Linear(dim, out * scale * scale, bias=False)
        self.norm = nn.LayerNorm(out)
        self.scale, self.out = scale, out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, _ = x.shape
        s = self.scale
        x = self.expand(x).view(b, h, w, s, s, self.out).permute(0, 1, 3, 2, 4, 5)  # channels read as (p1, p2, c)
        return self.norm(x.reshape(b, h * s, w * s, self.out))


class STMBlock(nn.Module):
    """Self-task Mamba: (B, H, W, C) -> same."""

    def __init__(self, dim: int, drop_path: float = 0.0, d_state: int = 16, ssm_ratio: int = 2,
                 scan_backend: str = "auto"):  # fmt: skip
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.op = SS2D(dim, d_state, ssm_ratio, scan_backend=scan_backend)
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.drop_path(self.op(self.norm(x)))


class CTMBlock(nn.Module):
    """Cross-task Mamba (F-CTM): {task: (B, H, W, C)} -> same.

    shared = SS2D(LN(concat_t F_t)); per task: z = LN_t(F_t), g = σ(Linear(z)),
    F_t += DropPath(Linear((g ⊙ shared + (1 - g) ⊙ SS2D_t(z)))).
    """

    def __init__(self, tasks: tuple[str, ...], dim: int, drop_path: float = 0.0, d_state: int = 16,
                 ssm_ratio: int = 2, scan_backend: str = "auto"):  # fmt: skip
        super().__init__()
        inner = ssm_ratio * dim
        self.tasks = tasks
        self.norm = nn.ModuleDict({t: nn.LayerNorm(dim) for t in tasks})
        self.op = nn.ModuleDict(
            {t: SS2D(dim, d_state, ssm_ratio, gated=False, scan_backend=scan_backend) for t in tasks}
        )
        self.in_proj = nn.ModuleDict({t: nn.Linear(dim, inner, bias=False) for t in tasks})
        self.out_proj = nn.ModuleDict({t: nn.Linear(inner, dim, bias=False) for t in tasks})
        self.norm_share = nn.LayerNorm(dim * len(tasks))
        self.op_share = SS2D(dim, d_state, ssm_ratio, in_dim=dim * len(tasks), gated=False, scan_backend=scan_backend)
        self.drop_path = DropPath(drop_path)

    def forward(self, feats: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        shared = self.op_share(self.norm_share(torch.cat([feats[t] for t in self.tasks], dim=-1)))
        out = {}
        for t in self.tasks:
            z = self.norm[t](feats[t])
            g = torch.sigmoid(self.in_proj[t](z))
            out[t] = feats[t] + self.drop_path(self.out_proj[t](g * shared + (1 - g) * self.op[t](z)))
        return out


class MTMambaDecoder(nn.Module):
    """list of 4 × (B, C_i, H_i, W_i) features, fine to coarse (C doubling, H halving)
    -> {task: (B, outputs[task], 4·H_0, 4·W_0)} raw outputs."""

    def __init__(self, channels: tuple[int, ...], outputs: dict[str, int], d_state: int = 16, ssm_ratio: int = 2,
                 drop_path: float = 0.2, scan_backend: str = "auto"):  # fmt: skip
        super().__init__()
        self.tasks = tuple(outputs)
        stages = len(channels) - 1
        rates = [drop_path * (1 - i / (3 * stages - 1)) for i in range(3 * stages)]  # STM1, STM2, CTM per stage
        kw = {"d_state": d_state, "ssm_ratio": ssm_ratio, "scan_backend": scan_backend}
        coarse_to_fine = channels[::-1]
        self.expand_layers, self.concat_layers = nn.ModuleDict(), nn.ModuleDict()
        self.block_1, self.block_2, self.block_3 = nn.ModuleDict(), nn.ModuleDict(), nn.ModuleDict()
        for s in range(stages):
            cur, skip = coarse_to_fine[s], coarse_to_fine[s + 1]
            for t in self.tasks:
                self.expand_layers[f"{t}_{s}"] = PatchExpand(cur)
                self.concat_layers[f"{t}_{s}"] = nn.Linear(2 * skip, skip)
                self.block_1[f"{t}_{s}"] = STMBlock(skip, rates[3 * s], **kw)
                self.block_2[f"{t}_{s}"] = STMBlock(skip, rates[3 * s + 1], **kw)
            self.block_3[str(s)] = CTMBlock(self.tasks, skip, rates[3 * s + 2], **kw)
        self.final_expand = nn.ModuleDict({t: PatchExpand(channels[0], scale=4) for t in self.tasks})
        self.final_project = nn.ModuleDict({t: nn.Conv2d(channels[0], n, 1) for t, n in outputs.items()})

    def forward(self, features: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        skips = [f.permute(0, 2, 3, 1) for f in features]  # channels-last
        x = {t: skips[-1] for t in self.tasks}
        for s in range(len(skips) - 1):
            skip = skips[-2 - s]
            hs, ws = skip.shape[1:3]
            for t in self.tasks:
                up = self.expand_layers[f"{t}_{s}"](x[t])[:, :hs, :ws]
                x[t] = self.block_2[f"{t}_{s}"](self.block_1[f"{t}_{s}"](
                    self.concat_layers[f"{t}_{s}"](torch.cat([up, skip], dim=-1))))  # fmt: skip
            x = self.block_3[str(s)](x)
        return {t: self.final_project[t](self.final_expand[t](x[t]).permute(0, 3, 1, 2)) for t in self.tasks}
