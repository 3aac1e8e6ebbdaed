"""A sparse semantic voxel map: label evidence per voxel, fused by counts with exponential forgetting.

Voxels live in a hash (packed integer key -> slot) over flat arrays that grow by doubling, so an update
is a handful of vectorised numpy operations plus one dictionary lookup per distinct voxel. Memory is
bounded the way Hydra bounds its active window: voxels farther than ``window_radius`` from the sensor are
archived (dropped from the map; the objects built from them stay in the scene graph), and the map never
holds more than ``max_voxels`` (the least recently seen go first).
"""

from __future__ import annotations

import sys

import numpy as np

_BITS = 21
_OFFSET = 1 << (_BITS - 1)
_MASK = (1 << _BITS) - 1


def pack(ijk: np.ndarray) -> np.ndarray:
    """(N, 3) integer voxel indices (|i| < 2^20) -> (N,) int64 keys."""
    u = (ijk.astype(np.int64) + _OFFSET) & _MASK
    return (u[:, 0] << (2 * _BITS)) | (u[:, 1] << _BITS) | u[:, 2]


def unpack(keys: np.ndarray) -> np.ndarray:
    """Inverse of :func:`pack`."""
    keys = np.asarray(keys, dtype=np.int64)
    return np.stack([(keys >> (2 * _BITS)) & _MASK, (keys >> _BITS) & _MASK, keys & _MASK], axis=1) - _OFFSET


class SemanticVoxelMap:
    """Voxels of size ``voxel_size`` holding per-label evidence over ``num_labels`` classes.

    Evidence of a voxel decays by exp(-Δt / ``decay_s``) between observations, so a voxel whose class
    changes (a moved chair, an early misclassification) follows the recent observations.
    """

    def __init__(self, num_labels: int, voxel_size: float, window_radius: float, max_voxels: int, decay_s: float):
        if voxel_size <= 0 or num_labels < 1 or max_voxels < 1:
            raise ValueError("voxel_size and num_labels must be positive, max_voxels >= 1")
        self.num_labels, self.voxel_size = num_labels, voxel_size
        self.window_radius, self.max_voxels, self.decay_s = window_radius, max_voxels, decay_s
        self._index: dict[int, int] = {}
        cap = 1024
        self._free: list[int] = list(range(cap - 1, -1, -1))  # popped from the end: lowest slots first
        self.keys = np.zeros(cap, np.int64)
        self.evidence = np.zeros((cap, num_labels), np.float32)
        self.hits = np.zeros(cap, np.int32)
        self.last_seen = np.zeros(cap, np.float64)
        self.used = np.zeros(cap, bool)

    def __len__(self) -> int:
        return len(self._index)

    @property
    def nbytes(self) -> int:
        """Everything the map holds: its arrays, the key -> slot index with its int objects, the free list."""
        arrays = sum(a.nbytes for a in (self.keys, self.evidence, self.hits, self.last_seen, self.used))
        index = sys.getsizeof(self._index) + sum(sys.getsizeof(k) + sys.getsizeof(v) for k, v in self._index.items())
        free = sys.getsizeof(self._free) + sum(sys.getsizeof(i) for i in self._free)
        return arrays + index + free

    def _grow(self, need: int) -> None:
        cap = len(self.keys)
        if need <= cap:
            return
        new = max(need, 2 * cap)
        for name in ("keys", "evidence", "hits", "last_seen", "used"):
            old = getattr(self, name)
            arr = np.zeros((new, *old.shape[1:]), old.dtype)
            arr[:cap] = old
            setattr(self, name, arr)
        self._free.extend(range(new - 1, cap - 1, -1))

    def _slots(self, keys: np.ndarray) -> np.ndarray:
        """Slots of ``keys`` (unique), allocating the new ones."""
        index = self._index
        slots = np.fromiter((index.get(k, -1) for k in keys.tolist()), np.int64, len(keys))
        new = np.flatnonzero(slots < 0)
        if len(new):
            if not self._free or len(self._free) < len(new):
                self._grow(len(self.keys) + len(new) - len(self._free))
            taken = [self._free.pop() for _ in range(len(new))]
            slots[new] = taken
            index.update(zip(keys[new].tolist(), taken))
            self.keys[taken] = keys[new]
            self.evidence[taken] = 0
            self.hits[taken] = 0
            self.used[taken] = True
        return slots

    def integrate(self, points: np.ndarray, labels: np.ndarray, stamp: float, sensor: np.ndarray | None = None,
                  weights: np.ndarray | None = None) -> None:  # fmt: skip
        """Add (N, 3) world points with (N,) label ids (ids outside [0, num_labels) are skipped)."""
        labels = np.asarray(labels)
        ok = (labels >= 0) & (labels < self.num_labels) & np.isfinite(points).all(1)
        points, labels = points[ok], labels[ok].astype(np.int64)
        w = np.ones(len(points), np.float32) if weights is None else np.asarray(weights, np.float32)[ok]
        if len(points):
            keys = pack(np.floor(points / self.voxel_size))
            uniq, inverse = np.unique(keys, return_inverse=True)
            slots = self._slots(uniq)
            if self.decay_s > 0:
                age = np.maximum(stamp - self.last_seen[slots], 0.0)
                self.evidence[slots] *= np.exp(-age / self.decay_s).astype(np.float32)[:, None]
            counts = np.bincount(inverse * self.num_labels + labels, weights=w, minlength=len(uniq) * self.num_labels)
            self.evidence[slots] += counts.reshape(len(uniq), self.num_labels).astype(np.float32)
            self.hits[slots] += np.bincount(inverse, minlength=len(uniq)).astype(np.int32)
            self.last_seen[slots] = stamp
        if sensor is not None:
            self.archive(np.asarray(sensor, float))
        if len(self._index) > self.max_voxels:
            self._drop(np.argsort(self.last_seen[self._live()])[: len(self._index) - self.max_voxels])

    def _live(self) -> np.ndarray:
        return np.flatnonzero(self.used)

    def _drop(self, which: np.ndarray) -> None:
        slots = self._live()[which]
        for k in self.keys[slots].tolist():
            del self._index[k]
        self.used[slots] = False
        self._free.extend(slots.tolist())

    def archive(self, sensor: np.ndarray) -> int:
        """Drop voxels farther than ``window_radius`` from ``sensor``; returns how many."""
        live = self._live()
        if not len(live):
            return 0
        far = np.linalg.norm(self.centers(live) - sensor, axis=1) > self.window_radius
        if far.any():
            self._drop(np.flatnonzero(far))
        return int(far.sum())

    def centers(self, slots: np.ndarray | None = None) -> np.ndarray:
        slots = self._live() if slots is None else slots
        return (unpack(self.keys[slots]) + 0.5) * self.voxel_size

    def voxels(self, min_hits: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(centres (M, 3), labels (M,) argmax of the evidence, confidence (M,) its share) of the live
        voxels observed at least ``min_hits`` times."""
        live = self._live()
        live = live[self.hits[live] >= min_hits]
        ev = self.evidence[live]
        labels = ev.argmax(1)
        total = ev.sum(1)
        conf = np.where(total > 0, ev[np.arange(len(live)), labels] / np.maximum(total, 1e-12), 0.0)
        return self.centers(live), labels, conf
