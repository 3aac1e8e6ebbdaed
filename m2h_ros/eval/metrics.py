"""Dense multi-task metrics with the pooled InvPT / ATRC protocol, accumulated batch by batch.

Every meter keeps sums (or histograms) over the whole evaluation set, never per-image means, so the
figures match the protocol and a test set never sits in memory:

- semantic: confusion matrix; IoU_c = TP / (TP + FP + FN) (denominator clamped to 1e-8, so a class in
  neither prediction nor ground truth scores 0, as in InvPT); mIoU over the scored classes.
- depth: RMSE, log-RMSE, AbsRel, SqRel and δ < 1.25^k pooled over all valid pixels (gt > 0);
  predictions are clamped to ≥ 1e-9 as in the protocol.
- normals: angle 2·atan2(‖p − g‖, ‖p + g‖) between unit vectors; mean, RMSE and % within 11.25/22.5/30°
  pooled; the median from a 0.01° histogram (exact to 0.01°).
- edges: optimal-dataset-scale F (odsF), by SEISM's protocol or a fast one for training
  (:mod:`m2h_ros.eval.edges`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import torch
import torch.nn.functional as F

from m2h_ros.errors import ConfigError, DataError
from m2h_ros.eval.edges import EDGE_PROTOCOLS


def _t(x) -> torch.Tensor:
    return torch.as_tensor(x).detach().cpu()


class SemsegMeter:
    """update(pred (…, H, W) class ids, gt (…, H, W) with ``IGNORE``). Predictions outside
    [0, num_classes), such as -1 for unknown, count as wrong."""

    def __init__(self, num_classes: int, scored: np.ndarray | None = None):
        self.num_classes = num_classes
        self.scored = np.arange(num_classes) if scored is None else np.asarray(scored)
        self.confusion = torch.zeros(num_classes, num_classes + 1, dtype=torch.int64)  # last column: invalid pred

    def update(self, pred, gt) -> None:
        pred, gt = _t(pred).long().flatten(), _t(gt).long().flatten()
        valid = (gt >= 0) & (gt < self.num_classes)
        pred, gt = pred[valid], gt[valid]
        k = self.num_classes
        pred = torch.where((pred >= 0) & (pred < k), pred, k)
        self.confusion += torch.bincount(gt * (k + 1) + pred, minlength=k * (k + 1)).view(k, k + 1)

    def iou(self) -> np.ndarray:
        c = self.confusion.double()
        tp = torch.diagonal(c[:, : self.num_classes])
        fp = c[:, : self.num_classes].sum(0) - tp
        fn = c.sum(1) - tp
        return (tp / (tp + fp + fn).clamp_min(1e-8)).numpy()

    def compute(self) -> dict[str, float]:
        iou = self.iou()
        c = self.confusion
        return {
            "mIoU": float(iou[self.scored].mean() * 100),
            "pixel_acc": float(torch.diagonal(c[:, :-1]).sum() / max(1, int(c.sum())) * 100),
        }


class DepthMeter:
    """update(pred (…, H, W) metres, gt (…, H, W) metres with 0 = invalid)."""

    KEYS = ("n", "se", "sle", "are", "sre", "d1", "d2", "d3")

    def __init__(self, max_depth: float | None = None):
        self.max_depth = max_depth
        self.sums = dict.fromkeys(self.KEYS, 0.0)

    def update(self, pred, gt) -> None:
        pred, gt = _t(pred).double().flatten(), _t(gt).double().flatten()
        valid = (gt > 0) & torch.isfinite(gt)
        if self.max_depth is not None:
            valid &= gt < self.max_depth
        pred, gt = torch.nan_to_num(pred[valid], nan=0.0).clamp_min(1e-9), gt[valid]
        ratio = torch.maximum(pred / gt, gt / pred)
        s = self.sums
        s["n"] += gt.numel()
        s["se"] += float(((gt - pred) ** 2).sum())
        s["sle"] += float(((gt.log() - pred.log()) ** 2).sum())
        s["are"] += float(((gt - pred).abs() / gt).sum())
        s["sre"] += float(((gt - pred) ** 2 / gt).sum())
        for k in (1, 2, 3):
            s[f"d{k}"] += float((ratio < 1.25**k).sum())

    def compute(self) -> dict[str, float]:
        s, n = self.sums, max(1.0, self.sums["n"])
        return {
            "rmse": math.sqrt(s["se"] / n), "log_rmse": math.sqrt(s["sle"] / n), "abs_rel": s["are"] / n,
            "sq_rel": s["sre"] / n, **{f"delta{k}": s[f"d{k}"] / n * 100 for k in (1, 2, 3)},
        }  # fmt: skip


class NormalsMeter:
    """update(pred (…, 3, H, W), gt (…, 3, H, W)); ground truth with zero norm is invalid."""

    def __init__(self):
        self.hist = torch.zeros(18000, dtype=torch.float64)  # 0.01° bins
        self.sums = {"n": 0.0, "sum": 0.0, "sq": 0.0}

    def update(self, pred, gt) -> None:
        pred, gt = _t(pred).double(), _t(gt).double()
        valid = gt.norm(dim=-3) > 0
        p, g = F.normalize(pred, dim=-3), F.normalize(gt, dim=-3)
        angle = torch.rad2deg(2 * torch.atan2((p - g).norm(dim=-3), (p + g).norm(dim=-3)))[valid]
        self.sums["n"] += angle.numel()
        self.sums["sum"] += float(angle.sum())
        self.sums["sq"] += float((angle**2).sum())
        self.hist += torch.bincount((angle * 100).long().clamp(0, 17999), minlength=18000).double()

    def compute(self) -> dict[str, float]:
        n = max(1.0, self.sums["n"])
        cdf = torch.cumsum(self.hist, 0)
        median = float(torch.searchsorted(cdf, cdf[-1] / 2)) / 100 + 0.005 if cdf[-1] > 0 else float("nan")
        out = {"mean": self.sums["sum"] / n, "median": median, "rmse": math.sqrt(self.sums["sq"] / n)}
        for t in (11.25, 22.5, 30.0):
            out[f"within_{t:g}"] = float(self.hist[: int(t * 100)].sum()) / n * 100
        return out


class MultiTaskMeter:
    """The four meters together; ``update`` takes predictions and targets as the Predictor and the
    dataset give them."""

    def __init__(self, num_classes: int, scored: np.ndarray | None = None, max_dist: float = 0.011,
                 max_depth: float | None = None, edge_protocol: str = "seism"):  # fmt: skip
        if edge_protocol not in EDGE_PROTOCOLS:
            raise ConfigError(f"unknown edge protocol {edge_protocol!r}; known: {', '.join(EDGE_PROTOCOLS)}")
        self.semseg = SemsegMeter(num_classes, scored)
        self.depth = DepthMeter(max_depth)
        self.normals = NormalsMeter()
        self.edges = EDGE_PROTOCOLS[edge_protocol](max_dist)

    def update(self, *, labels, depth, normals, edges, gt_semseg, gt_depth, gt_normals, gt_edges) -> None:
        """labels (B, H, W) ids; depth (B, H, W) m; normals (B, 3, H, W); edges (B, H, W) probability."""
        self.semseg.update(labels, gt_semseg)
        self.depth.update(depth, gt_depth)
        self.normals.update(normals, gt_normals)
        self.edges.update(edges, gt_edges)

    def compute(self) -> dict[str, dict[str, float]]:
        return {"semseg": self.semseg.compute(), "depth": self.depth.compute(), "normals": self.normals.compute(),
                "edges": self.edges.compute()}  # fmt: skip


# The headline figure of each task and whether higher is better, for Δm.
HEADLINE = {("semseg", "mIoU"): True, ("depth", "rmse"): False, ("normals", "mean"): False, ("edges", "odsF"): True}


def delta_m(metrics: Mapping, baseline: Mapping, headline: Mapping = HEADLINE) -> float:
    """Δm = (1/T) Σ_t (-1)^{l_t} (M_t - B_t) / B_t × 100 over the headline figures present in both."""
    terms = []
    protocols = {m.get("edges", {}).get("protocol", "fast") for m in (metrics, baseline) if "edges" in m}
    if len(protocols) > 1:  # results saved before the protocol was recorded were all scored by the fast one
        raise DataError("the metrics and the baseline score edges by different protocols (seism, fast); "
                        "evaluate both with the same --edges")  # fmt: skip
    for (task, key), higher_better in headline.items():
        if task in metrics and task in baseline:
            m, b = metrics[task][key], baseline[task][key]
            terms.append((m - b) / b * (1 if higher_better else -1))
    if not terms:
        raise DataError("Δm needs at least one task present in both the metrics and the baseline")
    return sum(terms) / len(terms) * 100
