"""The network's outputs brought back to the camera's resolution: numba kernels for the Predictor.

``channel_argmax`` takes the class of every pixel at network resolution; ``upsample_outputs`` then
resizes depth, normals and edge probability bilinearly and labels by nearest neighbour, with the
sampling of ``torch.nn.functional.interpolate`` (``align_corners=False``; ``mode="nearest"``), and
renormalises the normals, in one pass over the output pixels. For a 640×480 camera on two CPU cores
this takes about half the time of torch's argmax, resizes and normalisation one after another
(``postprocess`` in ``benchmarks/node_pipeline.py``), the largest cost of the node besides the network.
"""

from __future__ import annotations

import functools

import numpy as np
from numba import njit, prange


def channel_argmax(logits: np.ndarray) -> np.ndarray:
    """(h, w, C) float scores -> (h, w) int16 index of the largest (the first of ties, as torch)."""
    labels = np.empty(logits.shape[:2], np.int16)
    _argmax(np.ascontiguousarray(logits), labels)
    return labels


@functools.lru_cache(maxsize=16)
def _bilinear_taps(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per output index: the two source indices, the second one's weight, and the nearest source index."""
    scale = n_in / n_out
    src = np.maximum((np.arange(n_out) + 0.5) * scale - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    nearest = np.minimum(np.floor(np.arange(n_out) * scale).astype(np.int64), n_in - 1)
    return i0, i1, (src - i0).astype(np.float32), nearest


def upsample_outputs(dense: np.ndarray, labels: np.ndarray, hw: tuple[int, int]):
    """(h, w, 5) float32 depth, normal x/y/z, edge probability and (h, w) int16 labels -> at ``hw``:
    depth (H, W), unit normals (H, W, 3), edges (H, W) float32 and labels (H, W) int16."""
    H, W = hw
    y0, y1, wy, yn = _bilinear_taps(dense.shape[0], H)
    x0, x1, wx, xn = _bilinear_taps(dense.shape[1], W)
    depth, edges = np.empty((H, W), np.float32), np.empty((H, W), np.float32)
    normals, out_labels = np.empty((H, W, 3), np.float32), np.empty((H, W), np.int16)
    _upsample(np.ascontiguousarray(dense, np.float32), np.ascontiguousarray(labels, np.int16),
              y0, y1, wy, yn, x0, x1, wx, xn, depth, normals, edges, out_labels)  # fmt: skip
    return depth, normals, edges, out_labels


@njit(parallel=True, cache=True)
def _argmax(logits, labels):
    for i in prange(labels.shape[0]):
        for j in range(labels.shape[1]):
            best, k = logits[i, j, 0], 0
            for c in range(1, logits.shape[2]):
                if logits[i, j, c] > best:
                    best, k = logits[i, j, c], c
            labels[i, j] = k


@njit(inline="always", fastmath=True, cache=True)
def _lerp(r0, r1, a, b, k, v, u):
    """Channel ``k`` interpolated between columns ``a``/``b`` of rows ``r0``/``r1`` (weights ``u``, ``v``)."""
    return (1 - v) * ((1 - u) * r0[a, k] + u * r0[b, k]) + v * ((1 - u) * r1[a, k] + u * r1[b, k])


@njit(parallel=True, fastmath=True, cache=True)
def _upsample(dense, labels, y0, y1, wy, yn, x0, x1, wx, xn, depth, normals, edges, out_labels):
    for i in prange(depth.shape[0]):
        r0, r1, v = dense[y0[i]], dense[y1[i]], wy[i]
        for j in range(depth.shape[1]):
            a, b, u = x0[j], x1[j], wx[j]
            nx, ny, nz = _lerp(r0, r1, a, b, 1, v, u), _lerp(r0, r1, a, b, 2, v, u), _lerp(r0, r1, a, b, 3, v, u)
            norm = np.sqrt(nx * nx + ny * ny + nz * nz)
            inv = 1.0 / norm if norm > 1e-12 else 0.0
            normals[i, j, 0], normals[i, j, 1], normals[i, j, 2] = nx * inv, ny * inv, nz * inv
            depth[i, j] = _lerp(r0, r1, a, b, 0, v, u)
            edges[i, j] = _lerp(r0, r1, a, b, 4, v, u)
            out_labels[i, j] = labels[yn[i], xn[j]]
