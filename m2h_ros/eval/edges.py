"""Edge detection scored by the optimal-dataset-scale F-measure (odsF), under two protocols.

``seism`` (the default; the only one whose figures compare with published odsF): SEISM's contour
evaluation as the InvPT / MTMamba line runs it on NYUD and PASCAL-Context
(prismformore/Boundary-Detection-Evaluation-Tools, ``read_one_cont_png`` and ``eval_cont``):

1. the probability as the 8-bit PNG those scripts save stores it: ⌊255·p⌋ / 255;
2. Dollár's non-maximum suppression, once: orientation from the second derivatives of the map smoothed
   by a triangle filter of radius 4; a pixel survives unless a bilinear sample one pixel away along
   the normal beats it ×1.01; responses fade to zero over the 5 pixels along the image border;
3. for each of SEISM's 101 thresholds (``parameters/HED.txt``: 0.001, 0.01 … 0.99, 0.999) the pixels
   strictly above it, thinned to one pixel (morphological thinning, MATLAB's ``bwmorph(·, 'thin', Inf)``);
4. the ground truth as SEISM reads an edge map: its ``seg2bmap`` (pixels that differ from their east,
   south or south-east neighbour), thinned;
5. prediction and ground-truth pixels matched one to one within ``max_dist`` × the image diagonal
   (0.011 for NYUD), as many as possible (``correspondPixels``: its outlier cost makes the assignment
   maximise the matches);
6. counts pooled over the dataset per threshold; odsF is the best F over the thresholds.

``fast``: one pass of histograms per image, for periodic validation during training. The probability is
thinned by a 4-direction non-maximum suppression across the edge instead of 2–3, and pixels are matched
by distance (a prediction pixel is right if a ground-truth edge lies within the tolerance, a
ground-truth pixel is found if a prediction does) instead of one to one, over the thresholds 0.01 …
0.99 (≥). It is lenient on double edges: two parallel responses 2 px apart along one true edge score
100 where SEISM scores about 67.

Ground-truth pixels marked ``IGNORE`` carry no edge and no prediction in either protocol (SEISM has no
ignore label; NYUD's edge maps have none).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from numba import njit
from scipy import ndimage, sparse
from skimage.morphology import thin

from m2h_ros.data.nyud import IGNORE

SEISM_THRESHOLDS = np.array([0.001, *(np.arange(1, 100) / 100), 0.999])
FAST_BINS = 100  # the fast protocol's thresholds k / 100, k = 1..99


def _as_maps(prob, gt):
    """(…, H, W) probabilities and ground truth -> pairs of (H, W) numpy arrays."""
    prob = torch.as_tensor(prob).detach().cpu().float()
    gt = torch.as_tensor(gt).detach().cpu()
    return zip(prob.reshape(-1, *prob.shape[-2:]).numpy(), gt.reshape(-1, *gt.shape[-2:]).numpy())


def _disk(radius: float) -> np.ndarray:
    r = math.floor(radius)
    y, x = np.mgrid[-r : r + 1, -r : r + 1]
    return x * x + y * y <= radius * radius


def ods(thresholds: np.ndarray, precision: np.ndarray, recall: np.ndarray, protocol: str) -> dict[str, float]:
    """The best F over the thresholds (the dataset-scale optimum), in percent."""
    f = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    best = int(np.argmax(f))
    return {"odsF": float(f[best] * 100), "threshold": float(thresholds[best]),
            "precision": float(precision[best] * 100), "recall": float(recall[best] * 100), "protocol": protocol}  # fmt: skip


# -- SEISM ------------------------------------------------------------------------------------------
def _tri_smooth(image: np.ndarray, radius: int = 4) -> np.ndarray:
    """Dollár's convTri: a separable triangle filter [1 … r+1 … 1] / (r+1)², mirrored borders."""
    f = np.concatenate([np.arange(1, radius + 2), np.arange(radius, 0, -1)]).astype(np.float32) / (radius + 1) ** 2
    return ndimage.convolve1d(ndimage.convolve1d(image, f, axis=0, mode="reflect"), f, axis=1, mode="reflect")


def _bilinear(image: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Samples at real (x, y), clamped to the image as the NMS kernel clamps them."""
    h, w = image.shape
    x, y = np.clip(x, 0, w - 1.001), np.clip(y, 0, h - 1.001)
    x0, y0 = x.astype(np.int64), y.astype(np.int64)
    dx, dy = x - x0, y - y0
    return (image[y0, x0] * (1 - dx) * (1 - dy) + image[y0, x0 + 1] * dx * (1 - dy)
            + image[y0 + 1, x0] * (1 - dx) * dy + image[y0 + 1, x0 + 1] * dx * dy)  # fmt: skip


def seism_nms(edges: np.ndarray, radius: int = 1, border: int = 5, margin: float = 1.01) -> np.ndarray:
    """(H, W) edge strength -> the same, thinned across the edge as SEISM's ``read_one_cont_png`` does."""
    edges = edges.astype(np.float32)
    gy, gx = np.gradient(_tri_smooth(edges))
    oxx = np.gradient(gx, axis=1)
    oxy, oyy = np.gradient(gy, axis=1), np.gradient(gy, axis=0)
    normal = np.mod(np.arctan(oyy * np.sign(-oxy) / (oxx + 1e-5)), np.pi)
    h, w = edges.shape
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    keep = edges > 0
    for d in (d for d in range(-radius, radius + 1) if d):
        keep &= ~(edges * margin < _bilinear(edges, x + d * np.cos(normal), y + d * np.sin(normal)))
    out = np.where(keep, edges, 0).astype(np.float32)
    s = min(border, w // 2, h // 2)
    fade = np.arange(s, dtype=np.float32) / s
    out[:, :s] *= fade
    out[:, w - s :] *= fade[::-1]
    out[:s] *= fade[:, None]
    out[h - s :] *= fade[::-1, None]
    return out


def seg2bmap(seg: np.ndarray) -> np.ndarray:
    """SEISM's boundary map of a label image: pixels whose east, south or south-east neighbour differs."""
    east, south, south_east = np.zeros_like(seg), np.zeros_like(seg), np.zeros_like(seg)
    east[:, :-1], south[:-1], south_east[:-1, :-1] = seg[:, 1:], seg[1:], seg[1:, 1:]
    b = (seg != east) | (seg != south) | (seg != south_east)
    b[-1] = seg[-1] != east[-1]
    b[:, -1] = seg[:, -1] != south[:, -1]
    b[-1, -1] = False
    return b


@njit(cache=True)
def _augment(indptr, indices, active, match_row, match_col) -> None:
    """Grow the matching (``match_row``/``match_col``, -1: free) over the ``active`` rows to a maximum one:
    passes of depth-first searches for augmenting paths from every free active row, the visited marks
    reset once per pass, until a pass finds none (then no augmenting path is left: Berge)."""
    n = len(match_row)
    visited = np.zeros(n, np.int64)
    stack_row = np.empty(n, np.int64)
    stack_pos = np.empty(n, np.int64)
    stamp = 0
    grown = True
    while grown:
        grown = False
        stamp += 1
        for root in range(n):
            if not active[root] or match_row[root] >= 0 or visited[root] == stamp:
                continue
            visited[root] = stamp
            depth = 0
            stack_row[0], stack_pos[0] = root, indptr[root]
            while depth >= 0:
                r = stack_row[depth]
                if stack_pos[depth] == indptr[r + 1]:
                    depth -= 1
                    continue
                c = indices[stack_pos[depth]]
                stack_pos[depth] += 1
                owner = match_col[c]
                if owner < 0:  # a free column: flip the path
                    for k in range(depth, -1, -1):
                        rk = stack_row[k]
                        ck = indices[stack_pos[k] - 1]
                        match_row[rk], match_col[ck] = ck, rk
                    grown = True
                    break
                if active[owner] and visited[owner] != stamp:
                    visited[owner] = stamp
                    depth += 1
                    stack_row[depth], stack_pos[depth] = owner, indptr[owner]


class PixelMatcher:
    """One-to-one matching of prediction pixels to ground-truth pixels within a radius, as SEISM's
    ``correspondPixels``: its outlier cost makes the assignment the largest matching. The graph is built
    once per image over every pixel a threshold may keep; from one threshold to the next the matching
    keeps the pairs whose pixels remain and is grown to a maximum again by augmenting paths."""

    def __init__(self, candidates: np.ndarray, truth: np.ndarray, radius: float):
        """candidates, truth: (H, W) masks (every thresholded prediction lies in ``candidates``)."""
        h, w = truth.shape
        gt_index = np.full(truth.shape, -1, np.int64)
        gt_index[truth] = np.arange(int(truth.sum()))
        self.row = np.full(truth.shape, -1, np.int64)
        near = candidates & (ndimage.binary_dilation(truth, structure=_disk(radius)) if truth.any() else truth)
        ys, xs = np.nonzero(near)
        self.row[ys, xs] = np.arange(len(ys))
        offsets = np.argwhere(_disk(radius)) - math.floor(radius)
        ty, tx = ys[:, None] + offsets[None, :, 0], xs[:, None] + offsets[None, :, 1]
        inside = (ty >= 0) & (ty < h) & (tx >= 0) & (tx < w)
        gid = np.full(ty.shape, -1, np.int64)
        gid[inside] = gt_index[ty[inside], tx[inside]]
        rows, cols = np.nonzero(gid >= 0)
        graph = sparse.csr_matrix((np.ones(len(rows), np.int8), (rows, gid[rows, cols])),
                                  shape=(len(ys), int(truth.sum())))  # fmt: skip
        self.indptr, self.indices = graph.indptr.astype(np.int64), graph.indices.astype(np.int64)
        self.match_row = np.full(len(ys), -1, np.int64)
        self.match_col = np.full(graph.shape[1], -1, np.int64)

    def count(self, pred: np.ndarray) -> int:
        """Matched pairs between the (H, W) mask ``pred`` and the ground truth (a maximum matching)."""
        active = np.zeros(len(self.match_row), np.bool_)
        rows = self.row[pred]
        active[rows[rows >= 0]] = True
        gone = (self.match_row >= 0) & ~active
        self.match_col[self.match_row[gone]] = -1
        self.match_row[gone] = -1
        _augment(self.indptr, self.indices, active, self.match_row, self.match_col)
        return int((self.match_row >= 0).sum())


class SeismEdgeMeter:
    """update(prob (…, H, W) edge probability, gt (…, H, W) in {0, 1, IGNORE}); SEISM's odsF (see above).
    Frames are kept as 8-bit maps until ``compute()`` (0.6 MB a 640×480 frame)."""

    def __init__(self, max_dist: float = 0.011):
        self.max_dist, self.thresholds = max_dist, SEISM_THRESHOLDS
        # per threshold: matched pairs, prediction pixels; ground-truth pixels (one map per image, so a
        # matched pair counts once for precision and once for recall)
        self.matched, self.predicted = np.zeros(len(self.thresholds)), np.zeros(len(self.thresholds))
        self.truth = 0
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []

    def update(self, prob, gt) -> None:
        # Kept as SEISM reads them (8-bit maps) and scored in compute(): scoring takes most of a second
        # a frame, which would otherwise pace a bag replay and the throughput it measures.
        for p, g in _as_maps(prob, gt):
            self._pending.append((np.floor(np.clip(p, 0, 1) * 255).astype(np.uint8), g.astype(np.uint8)))

    def _score_pending(self) -> None:
        from tqdm import tqdm

        pending, self._pending = self._pending, []
        for prob8, gt in tqdm(pending, desc="edges (SEISM)", unit="frame", disable=len(pending) < 50, leave=False):
            self._update_one(prob8, gt)

    def _update_one(self, prob8: np.ndarray, gt: np.ndarray) -> None:
        valid = gt != IGNORE
        truth = thin(seg2bmap((gt == 1) & valid))
        nms = seism_nms(prob8.astype(np.float32) / 255) * valid
        matcher = PixelMatcher(nms > self.thresholds.min(), truth, self.max_dist * math.hypot(*gt.shape))
        for k in np.argsort(self.thresholds)[::-1]:  # high to low: each matching grows from the last
            pred = thin(nms > self.thresholds[k])
            self.matched[k] += matcher.count(pred)
            self.predicted[k] += pred.sum()
        self.truth += int(truth.sum())

    def curve(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(thresholds, precision, recall); as SEISM's gather: precision 1 where nothing is predicted."""
        self._score_pending()
        precision = np.where(self.predicted > 0, self.matched / np.maximum(self.predicted, 1), 1.0)
        recall = self.matched / self.truth if self.truth else (self.predicted == 0).astype(float)
        return self.thresholds, precision, recall

    def compute(self) -> dict[str, float]:
        return ods(*self.curve(), "seism")


# -- fast -------------------------------------------------------------------------------------------
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


class FastEdgeMeter:
    """update(prob (…, H, W) edge probability, gt (…, H, W) in {0, 1, IGNORE}); the fast protocol's odsF."""

    def __init__(self, max_dist: float = 0.011):
        self.max_dist = max_dist
        self.pred_all = np.zeros(FAST_BINS)  # NMS'd prediction pixels by probability bin
        self.pred_hit = np.zeros(FAST_BINS)  # ... of those, within tolerance of a GT edge
        self.gt_found = np.zeros(FAST_BINS)  # GT edge pixels by the best probability within tolerance
        self.gt_total = 0

    def update(self, prob, gt) -> None:
        for p, g in _as_maps(prob, gt):
            self._update_one(p, g)

    def _update_one(self, prob: np.ndarray, gt: np.ndarray) -> None:
        valid = gt != IGNORE
        edges = (gt == 1) & valid
        disk = _disk(self.max_dist * math.hypot(*prob.shape))
        nms = edge_nms(torch.from_numpy(prob)).numpy() * valid
        near_gt = ndimage.binary_dilation(edges, structure=disk)
        reach = ndimage.maximum_filter(nms, footprint=disk, mode="constant")

        def hist(values: np.ndarray) -> np.ndarray:
            return np.bincount(np.clip((values * FAST_BINS).astype(np.int64), 0, FAST_BINS - 1), minlength=FAST_BINS)

        on = nms > 0
        self.pred_all += hist(nms[on])
        self.pred_hit += hist(nms[on & near_gt])
        self.gt_found += hist(reach[edges])
        self.gt_total += int(edges.sum())

    def curve(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(thresholds, precision, recall) at 0.01 … 0.99."""
        above = lambda h: np.cumsum(h[::-1])[::-1][1:]  # noqa: E731 — count with probability >= k / 100
        thresholds = np.arange(1, FAST_BINS) / FAST_BINS
        precision = above(self.pred_hit) / np.maximum(above(self.pred_all), 1)
        recall = above(self.gt_found) / max(self.gt_total, 1)
        return thresholds, precision, recall

    def compute(self) -> dict[str, float]:
        return ods(*self.curve(), "fast")


EDGE_PROTOCOLS = {"seism": SeismEdgeMeter, "fast": FastEdgeMeter}
