"""Per-task losses (MTMamba's ``losses/loss_functions.py`` definitions) and task weighting.

Each loss averages over the valid pixels of the batch and is 0 (with a gradient path) when there are none,
so a crop without depth or edges never produces NaN.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Literal

import torch
import torch.nn.functional as F

from m2h_ros.data.nyud import IGNORE, Sample
from m2h_ros.model.m2h import Outputs, metric_depth

TASKS = ("semseg", "depth", "normals", "edges")


def _masked_mean(per_pixel: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    return (per_pixel * valid).sum() / valid.sum().clamp_min(1)


def semseg_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy over pixels whose target is not ``IGNORE``. logits (B, K, H, W), target (B, H, W)."""
    if not (target != IGNORE).any():
        return logits.sum() * 0
    return F.cross_entropy(logits, target, ignore_index=IGNORE)


def depth_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L1 in metres over pixels with target depth > 0. (B, 1, H, W) each."""
    return _masked_mean((pred - target).abs(), target > 0)


def normals_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L1 between the L2-normalised prediction and the target, summed over x, y, z and averaged over
    valid pixels (non-zero target). (B, 3, H, W) each."""
    valid = target.abs().sum(1, keepdim=True) > 0
    return _masked_mean((F.normalize(pred, dim=1) - target).abs().sum(1, keepdim=True), valid)


def edge_loss(logits: torch.Tensor, target: torch.Tensor, pos_weight: float = 0.95) -> torch.Tensor:
    """Balanced BCE: weight ``pos_weight`` on edge pixels and 1 - ``pos_weight`` on the rest, averaged over
    pixels that are not ``IGNORE``. (B, 1, H, W) each."""
    valid = target != IGNORE
    y = torch.where(valid, target, torch.zeros_like(target))
    bce = F.binary_cross_entropy_with_logits(logits, y, reduction="none")
    weight = torch.where(y > 0.5, pos_weight, 1 - pos_weight)
    return _masked_mean(bce * weight, valid)


def task_losses(out: Outputs, batch: Sample, edge_pos_weight: float = 0.95,
                depth_focal_px: float = 0.0) -> dict[str, torch.Tensor]:  # fmt: skip
    """Each task's loss; depth in metres (a canonical-camera network's through each frame's focal length)."""
    return {
        "semseg": semseg_loss(out.semseg, batch.semseg),
        "depth": depth_loss(metric_depth(out.depth, batch.focal_px, depth_focal_px), batch.depth),
        "normals": normals_loss(out.normals, batch.normals),
        "edges": edge_loss(out.edges, batch.edges, edge_pos_weight),
    }


class TaskWeighting:
    """Combines task losses into one objective.

    - ``fixed``: Σ w_t L_t (MTMamba++ on NYUD: semseg 1, depth 1, normals 10, edges 50).
    - ``log``: Σ w_t log(L_t), MTMamba's scheme, which scales each task's gradient by 1 / L_t.
    - ``dwa``: Dynamic Weight Average (Liu et al. 2019): λ_t = T · softmax(r_t / τ) with r_t the ratio of
      the task's mean loss over the last two windows of ``window`` steps (the paper's epochs); w_t
      multiplies λ_t. The first two windows use λ_t = 1.
    """

    def __init__(self, scheme: Literal["fixed", "log", "dwa"], weights: Mapping[str, float],
                 temperature: float = 2.0, window: int = 100):  # fmt: skip
        self.scheme, self.temperature, self.window = scheme, temperature, window
        self.weights = {t: float(weights.get(t, 1.0)) for t in TASKS}
        self.history: list[dict[str, float]] = []  # mean loss per completed window
        self._sum = dict.fromkeys(TASKS, 0.0)
        self._count = 0

    def lambdas(self) -> dict[str, float]:
        if self.scheme != "dwa" or len(self.history) < 2:
            return dict.fromkeys(TASKS, 1.0)
        prev, last = self.history[-2], self.history[-1]
        r = {t: last[t] / max(prev[t], 1e-12) / self.temperature for t in TASKS}
        z = sum(math.exp(v) for v in r.values())
        return {t: len(TASKS) * math.exp(r[t]) / z for t in TASKS}

    def __call__(self, losses: Mapping[str, torch.Tensor]) -> torch.Tensor:
        if self.scheme == "dwa":
            self._observe(losses)
        lam = self.lambdas()
        if self.scheme == "log":
            return sum(self.weights[t] * torch.log(losses[t] + 1e-8) for t in TASKS)
        return sum(self.weights[t] * lam[t] * losses[t] for t in TASKS)

    def _observe(self, losses: Mapping[str, torch.Tensor]) -> None:
        for t in TASKS:
            self._sum[t] += float(losses[t].detach())
        self._count += 1
        if self._count == self.window:
            self.history = [*self.history[-1:], {t: self._sum[t] / self._count for t in TASKS}]
            self._sum, self._count = dict.fromkeys(TASKS, 0.0), 0

    def state_dict(self) -> dict:
        return {"history": self.history, "sum": self._sum, "count": self._count}

    def load_state_dict(self, state: Mapping) -> None:
        self.history, self._sum, self._count = list(state["history"]), dict(state["sum"]), int(state["count"])
