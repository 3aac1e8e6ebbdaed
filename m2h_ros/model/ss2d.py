"""SS2D: the 2-D selective-scan block of VMamba, as MTMamba uses it.

The map is scanned in four directions (row-major, column-major and both reversed); each direction has
its own input-dependent Δ, B, C (grouped: one group of B/C per direction), the four outputs are
merged back to the map, layer-normalised and (gated form) multiplied by SiLU(z) and projected.
Parameter names follow the released code so its weights load by name.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from m2h_ros.model.selective_scan import selective_scan

K_DIRECTIONS = 4


def cross_scan(x: torch.Tensor) -> torch.Tensor:
    """(B, D, H, W) -> (B, 4, D, H·W): row-major, column-major, and both reversed."""
    rows = x.flatten(2)
    cols = x.transpose(2, 3).flatten(2)
    return torch.stack([rows, cols, rows.flip(-1), cols.flip(-1)], dim=1)


def cross_merge(y: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """(B, 4, D, H·W) -> (B, D, H·W): undo each direction's order and sum."""
    b, _, d, _ = y.shape
    col = y[:, 1] + y[:, 3].flip(-1)
    return y[:, 0] + y[:, 2].flip(-1) + col.view(b, d, w, h).transpose(2, 3).reshape(b, d, h * w)


class SS2D(nn.Module):
    """(B, H, W, in_dim) -> (B, H, W, d_model) (gated) or (B, H, W, d_inner) (ungated, as in F-CTM).

    Args:
        d_model: C; d_inner = ssm_ratio · C, dt_rank = ceil(C / 16).
        in_dim: input width (default C; T·C for the shared SS2D of F-CTM).
        gated: split the input projection into x and a SiLU gate z, and project back to C.
    """

    def __init__(self, d_model: int, d_state: int = 16, ssm_ratio: int = 2, in_dim: int | None = None,
                 gated: bool = True, d_conv: int = 3, scan_backend: str = "auto"):  # fmt: skip
        super().__init__()
        d_inner = ssm_ratio * d_model
        self.d_state, self.d_inner, self.dt_rank = d_state, d_inner, math.ceil(d_model / 16)
        self.gated, self.scan_backend = gated, scan_backend
        self.in_proj = nn.Linear(in_dim or d_model, d_inner * (2 if gated else 1), bias=False)
        self.conv2d = nn.Conv2d(d_inner, d_inner, d_conv, padding=(d_conv - 1) // 2, groups=d_inner, bias=True)
        k, r, n = K_DIRECTIONS, self.dt_rank, d_state
        bound = 1 / math.sqrt(d_inner)  # nn.Linear's default init
        self.x_proj_weight = nn.Parameter(torch.empty(k, r + 2 * n, d_inner).uniform_(-bound, bound))
        self.dt_projs_weight = nn.Parameter(torch.empty(k, d_inner, r).uniform_(-(r**-0.5), r**-0.5))
        # Δ bias so that softplus(bias) is log-uniform in [1e-3, 0.1] (inverse softplus of a sample).
        dt = torch.exp(torch.rand(k, d_inner) * (math.log(0.1) - math.log(1e-3)) + math.log(1e-3)).clamp(min=1e-4)
        self.dt_projs_bias = nn.Parameter(dt + torch.log(-torch.expm1(-dt)))
        self.A_logs = nn.Parameter(torch.log(torch.arange(1, n + 1, dtype=torch.float32)).repeat(k * d_inner, 1))
        self.Ds = nn.Parameter(torch.ones(k * d_inner))
        self.out_norm = nn.LayerNorm(d_inner)
        self.out_proj = nn.Linear(d_inner, d_model, bias=False) if gated else None

    def scan(self, x: torch.Tensor) -> torch.Tensor:
        """(B, d_inner, H, W) -> (B, H, W, d_inner): four-direction selective scan, merged and normalised."""
        b, d, h, w = x.shape
        xs = cross_scan(x)  # (B, K, D, L)
        dbc = torch.einsum("bkdl,kcd->bkcl", xs, self.x_proj_weight)
        dts, Bs, Cs = torch.split(dbc, [self.dt_rank, self.d_state, self.d_state], dim=2)
        dts = torch.einsum("bkrl,kdr->bkdl", dts, self.dt_projs_weight)
        y = selective_scan(
            xs.reshape(b, -1, h * w), dts.reshape(b, -1, h * w), -torch.exp(self.A_logs.float()), Bs, Cs,
            self.Ds.float(), delta_bias=self.dt_projs_bias.float().view(-1), delta_softplus=True,
            backend=self.scan_backend,
        ).view(b, K_DIRECTIONS, d, h * w)  # fmt: skip
        y = cross_merge(y, h, w).transpose(1, 2).reshape(b, h, w, d)
        return self.out_norm(y.to(x.dtype))

    def scan_macs(self, x: torch.Tensor) -> int:
        """MACs of the selective scan in ``forward(x)``, which FLOP counters do not see (elementwise
        recurrences): VMamba's count of 9 FLOPs per channel, state and step plus the D skip, halved."""
        b, h, w = x.shape[:3]
        channels, steps = K_DIRECTIONS * self.d_inner, h * w
        return (9 * b * channels * steps * self.d_state + b * channels * steps) // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.in_proj(x)
        if self.gated:
            x, z = x.chunk(2, dim=-1)
        y = self.scan(F.silu(self.conv2d(x.permute(0, 3, 1, 2))))
        return self.out_proj(y * F.silu(z)) if self.gated else y
