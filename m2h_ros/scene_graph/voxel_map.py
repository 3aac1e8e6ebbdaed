"""A sparse semantic voxel map: label evidence per voxel, fused by counts with exponential forgetting,
and occupancy per voxel in log-odds, as OctoMap keeps it, so that space seen through later is cleared.

Voxels live in a hash (packed integer key -> slot) over flat arrays that grow by doubling, so an update
is a handful of vectorised numpy operations plus one dictionary lookup per distinct voxel. Memory is
bounded the way Hydra bounds its active window: voxels farther than ``window_radius`` from the sensor are
archived (dropped from the map; the objects built from them stay in the scene graph), and the map never
holds more than ``max_voxels`` (the least recently seen go first).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

from m2h_ros.scene_graph.free_space import RangeImage

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


@dataclass
class Occupancy:
    """Log-odds occupancy per voxel and cloud (OctoMap's defaults: hit 0.7, miss 0.4, clamped to 0.12–0.97);
    a voxel is occupied above 0. Seen through: in front of the surface of its direction by more than
    ``margin_m`` + ``margin_rel`` × that surface's range (learned depth errs in proportion to range)."""

    hit: float = 0.85
    miss: float = -0.4
    min: float = -2.0
    max: float = 3.5
    margin_m: float = 0.1
    margin_rel: float = 0.1
    bin_rad: float = 0.01


def _sq_dist(points: np.ndarray, origin: np.ndarray) -> np.ndarray:
    d = points - origin.astype(points.dtype)
    return np.einsum("ij,ij->i", d, d)


class SemanticVoxelMap:
    """Voxels of size ``voxel_size`` holding per-label evidence over ``num_labels`` classes.

    Evidence of a voxel decays by exp(-Δt / ``decay_s``) between observations, so a voxel whose class
    changes (a moved chair, an early misclassification) follows the recent observations. Each cloud
    given with its sensor position also lowers the occupancy of the voxels it saw through; a voxel at
    the floor of the clamp is dropped.
    """

    def __init__(self, num_labels: int, voxel_size: float, window_radius: float, max_voxels: int, decay_s: float,
                 occupancy: Occupancy | None = None):  # fmt: skip
        if voxel_size <= 0 or num_labels < 1 or max_voxels < 1:
            raise ValueError("voxel_size and num_labels must be positive, max_voxels >= 1")
        self.num_labels, self.voxel_size = num_labels, voxel_size
        self.window_radius, self.max_voxels, self.decay_s = window_radius, max_voxels, decay_s
        self.occupancy = occupancy or Occupancy()
        self._index: dict[int, int] = {}
        cap = 1024
        self._free: list[int] = list(range(cap - 1, -1, -1))  # popped from the end: lowest slots first
        self.keys = np.zeros(cap, np.int64)
        self.center = np.zeros((cap, 3), np.float32)  # metres, kept beside the key: distances every cloud
        self.evidence = np.zeros((cap, num_labels), np.float32)
        self.hits = np.zeros(cap, np.int32)
        self.log_odds = np.zeros(cap, np.float32)
        self.last_seen = np.zeros(cap, np.float64)
        self.used = np.zeros(cap, bool)

    def __len__(self) -> int:
        return len(self._index)

    @property
    def nbytes(self) -> int:
        """Everything the map holds: its arrays, the key -> slot index with its int objects, the free list."""
        arrays = sum(
            a.nbytes
            for a in (self.keys, self.center, self.evidence, self.hits, self.log_odds, self.last_seen, self.used)
        )
        index = sys.getsizeof(self._index) + sum(sys.getsizeof(k) + sys.getsizeof(v) for k, v in self._index.items())
        free = sys.getsizeof(self._free) + sum(sys.getsizeof(i) for i in self._free)
        return arrays + index + free

    def _grow(self, need: int) -> None:
        cap = len(self.keys)
        if need <= cap:
            return
        new = max(need, 2 * cap)
        for name in ("keys", "center", "evidence", "hits", "log_odds", "last_seen", "used"):
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
            self.center[taken] = (unpack(keys[new]) + 0.5) * self.voxel_size
            self.evidence[taken] = 0
            self.hits[taken] = 0
            self.log_odds[taken] = 0
            self.used[taken] = True
        return slots

    def integrate(self, points: np.ndarray, labels: np.ndarray, stamp: float, sensor: np.ndarray | None = None,
                  weights: np.ndarray | None = None) -> None:  # fmt: skip
        """Add (N, 3) world points with (N,) label ids (ids outside [0, num_labels) are skipped), seen from
        ``sensor`` (3,): voxels this cloud saw through lose occupancy first."""
        labels = np.asarray(labels)
        ok = (labels >= 0) & (labels < self.num_labels) & np.isfinite(points).all(1)
        points, labels = points[ok], labels[ok].astype(np.int64)
        w = np.ones(len(points), np.float32) if weights is None else np.asarray(weights, np.float32)[ok]
        if sensor is not None and len(points):
            self.carve(points, np.asarray(sensor, float))
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
            occ = self.occupancy
            self.log_odds[slots] = np.minimum(self.log_odds[slots] + occ.hit, occ.max)
            self.last_seen[slots] = stamp
        if sensor is not None:
            self.archive(np.asarray(sensor, float))
        if len(self._index) > self.max_voxels:
            self._drop(np.argsort(self.last_seen[self._live()])[: len(self._index) - self.max_voxels])

    def carve(self, points: np.ndarray, sensor: np.ndarray) -> int:
        """Lower the occupancy of the live voxels that the cloud ``points`` (N, 3), seen from ``sensor``,
        saw through; drop those at the clamp's floor. Returns how many were seen through."""
        live = self._live()
        if not len(live):
            return 0
        occ = self.occupancy
        image = RangeImage(points, sensor, occ.bin_rad)
        near = live[_sq_dist(self.center[live], sensor) < image.reach**2]
        through = near[image.seen_through(self.center[near], occ.margin_m, occ.margin_rel)]
        self.log_odds[through] = np.maximum(self.log_odds[through] + occ.miss, occ.min)
        gone = np.flatnonzero(self.log_odds[live] <= occ.min)
        if len(gone):
            self._drop(gone)
        return len(through)

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
        far = _sq_dist(self.center[live], sensor) > self.window_radius**2
        if far.any():
            self._drop(np.flatnonzero(far))
        return int(far.sum())

    def centers(self, slots: np.ndarray | None = None) -> np.ndarray:
        return self.center[self._live() if slots is None else slots].astype(np.float64)

    def voxels(self, min_hits: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(centres (M, 3), labels (M,) argmax of the evidence, confidence (M,) its share) of the live
        occupied voxels observed at least ``min_hits`` times."""
        live = self._live()
        live = live[(self.hits[live] >= min_hits) & (self.log_odds[live] > 0)]
        ev = self.evidence[live]
        labels = ev.argmax(1)
        total = ev.sum(1)
        conf = np.where(total > 0, ev[np.arange(len(live)), labels] / np.maximum(total, 1e-12), 0.0)
        return self.centers(live), labels, conf
