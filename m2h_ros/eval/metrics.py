"""Dense multi-task metrics with the pooled InvPT / ATRC protocol, accumulated batch by batch.

Every meter keeps sums (or histograms) over the whole evaluation set, never per-image means, so the
figures match the protocol and a test set never sits in memory:

- semantic: confusion matrix; IoU_c = TP / (TP + FP + FN) (denominator clamped to 1e-8, so a class in
  neither prediction nor ground truth scores 0, as in InvPT); mIoU over the scored classes.
- depth: RMSE, log-RMSE, AbsRel, SqRel and δ < 1.25^k pooled over all valid pixels (gt > 0);
  predictions are clamped to ≥ 1e-9 as in the protocol.
- normals: angle 2·atan2(‖p − g‖, ‖p + g‖) between unit vectors; mean, RMSE and % within 11.25/22.5/30°
  pooled; the median from a 0.01° histogram (exact to 0.01°).
- edges: optimal-dataset-scale F (odsF) over the thresholds 0.01 … 0.99, a match tolerance of
  ``max_dist`` × image diagonal (0.011 for NYUD, as SEISM). How this differs from MATLAB SEISM: the
  prediction is thinned once by non-maximum suppression across the edge instead of morphological
  thinning of every thresholded map, and pixels are matched by distance (a prediction pixel is right if a
  ground-truth edge lies within the tolerance, a ground-truth pixel is found if a prediction does)
  instead of a one-to-one assignment; both make the score somewhat more lenient on double edges.
  With those choices every threshold follows from histograms, one pass per image.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from m2h_ros.data.nyud import IGNORE
from m2h_ros.errors import DataError

EDGE_BINS = 100  # thresholds k / 100, k = 1..99


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


def edge_nms(prob: torch.Tensor) -> torch.Tensor:
    """(H, W) probabilities -> the same with every pixel that is not a maximum across the edge set to 0."""
    p = F.avg_pool2d(prob[None, None], 3, 1, 1, count_include_pad=False)[0, 0]  # direction from a smoothed map
    gy, gx = torch.gradient(p)
    angle = torch.rad2deg(torch.atan2(gy, gx)) % 180
    direction = ((angle + 22.5) // 45).long() % 4  # 0: across x, 1: diagonal, 2: across y, 3: anti-diagonal
    padded = F.pad(prob[None, None], (1, 1, 1, 1))[0, 0]
    h, w = prob.shape
    keep = torch.zeros_like(prob, dtype=torch.bool)
    for d, (dy, dx) in enumerate(((0, 1), (1, 1), (1, 0), (1, -1))):
        a = padded[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]
        b = padded[1 - dy : 1 - dy + h, 1 - dx : 1 - dx + w]
        keep |= (direction == d) & (prob >= a) & (prob >= b)
    return torch.where(keep, prob, torch.zeros_like(prob))


def _disk(radius: float) -> np.ndarray:
    r = math.floor(radius)
    y, x = np.mgrid[-r : r + 1, -r : r + 1]
    return x * x + y * y <= radius * radius


class EdgeMeter:
    """update(prob (…, H, W) edge probability, gt (…, H, W) in {0, 1, IGNORE}); odsF as described above."""

    def __init__(self, max_dist: float = 0.011):
        self.max_dist = max_dist
        self.pred_all = np.zeros(EDGE_BINS)  # NMS'd prediction pixels by probability bin
        self.pred_hit = np.zeros(EDGE_BINS)  # ... of those, within tolerance of a GT edge
        self.gt_found = np.zeros(EDGE_BINS)  # GT edge pixels by the best probability within tolerance
        self.gt_total = 0

    def update(self, prob, gt) -> None:
        prob, gt = _t(prob).float(), _t(gt)
        for p, g in zip(prob.reshape(-1, *prob.shape[-2:]), gt.reshape(-1, *gt.shape[-2:])):
            self._update_one(p, g)

    def _update_one(self, prob: torch.Tensor, gt: torch.Tensor) -> None:
        valid = (gt != IGNORE).numpy()
        edges = (gt == 1).numpy() & valid
        disk = _disk(self.max_dist * math.hypot(*prob.shape))
        nms = edge_nms(prob).numpy() * valid
        near_gt = ndimage.binary_dilation(edges, structure=disk)
        reach = ndimage.maximum_filter(nms, footprint=disk, mode="constant")

        def hist(values: np.ndarray) -> np.ndarray:
            return np.bincount(np.clip((values * EDGE_BINS).astype(np.int64), 0, EDGE_BINS - 1), minlength=EDGE_BINS)

        on = nms > 0
        self.pred_all += hist(nms[on])
        self.pred_hit += hist(nms[on & near_gt])
        self.gt_found += hist(reach[edges])
        self.gt_total += int(edges.sum())

    def curve(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(thresholds, precision, recall) at 0.01 … 0.99."""
        above = lambda h: np.cumsum(h[::-1])[::-1][1:]  # noqa: E731 — count with probability >= k / 100
        thresholds = np.arange(1, EDGE_BINS) / EDGE_BINS
        precision = above(self.pred_hit) / np.maximum(above(self.pred_all), 1)
        recall = above(self.gt_found) / max(self.gt_total, 1)
        return thresholds, precision, recall

    def compute(self) -> dict[str, float]:
        t, p, r = self.curve()
        f = 2 * p * r / np.maximum(p + r, 1e-12)
        best = int(np.argmax(f))
        return {"odsF": float(f[best] * 100), "threshold": float(t[best]), "precision": float(p[best] * 100),
                "recall": float(r[best] * 100)}  # fmt: skip


class MultiTaskMeter:
    """The four meters together; ``update`` takes predictions and targets as the Predictor and the
    dataset give them."""

    def __init__(self, num_classes: int, scored: np.ndarray | None = None, max_dist: float = 0.011,
                 max_depth: float | None = None):  # fmt: skip
        self.semseg = SemsegMeter(num_classes, scored)
        self.depth = DepthMeter(max_depth)
        self.normals = NormalsMeter()
        self.edges = EdgeMeter(max_dist)

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
    for (task, key), higher_better in headline.items():
        if task in metrics and task in baseline:
            m, b = metrics[task][key], baseline[task][key]
            terms.append((m - b) / b * (1 if higher_better else -1))
    if not terms:
        raise DataError("Δm needs at least one task present in both the metrics and the baseline")
    return sum(terms) / len(terms) * 100
