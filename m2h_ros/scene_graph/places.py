"""Free space, places and rooms on a 2D floor grid.

Hydra extracts places from a 3D GVD and finds rooms by removing places of low clearance until the
place graph falls apart into components (§3.3–3.4 of the Hydra notes). Homes are one storey, so this
does the same in the floor plane, which is cheaper and robust with monocular depth:

1. :class:`FloorGrid`: cells of ``cell`` metres record how often floor was seen in them (free), how
   often an obstacle (a point between ``min_height`` and ``max_height`` above the floor that is not floor
   or ceiling) and how often a wall. Rays are not traced: in the floor plane a ray over a table would
   clear the table's cells. Walls are the exception, since a wall stands from floor to ceiling: a cell
   that a cloud saw past (a point of any height farther away in the cell's direction from the camera)
   holds no wall there, so a cell is a wall only where more clouds put wall points in it than saw past
   it. Learned wall depth varies from view to view; this keeps the walls that no other view contradicts.
   Half-height walls and glass are not room boundaries under this rule.
2. :func:`extract_places`: clearance = distance from each free cell to the nearest cell that is
   occupied or unknown; one place per ``spacing`` block at the block's cell of largest clearance, if
   that clearance is at least ``min_clearance``; places in neighbouring blocks are connected when the
   straight segment between them stays in free space. Edge weight: the least clearance along it.
3. :func:`segment_rooms`: Hydra's filtration, on the *room clearance*: the distance to the nearest wall
   or unobserved cell, ignoring furniture (the semantics tell walls from furniture; furnished homes
   leave too little free clearance inside rooms, and too few traversable links, for the place graph to
   tell rooms from doorways). For each threshold δ the cells with room clearance > δ form components;
   δ* is chosen by Hydra's ``PLATEAU`` mode on the count of components larger than ``min_room_area``:
   among the runs of equal counts that last at least ``plateau_ratio`` × the longest run, the one with
   the most components, at the δ where it starts. Those components seed the rooms; each place joins the
   room of the nearest seed cell. Preferring the most rooms among lasting runs matters on learned depth:
   wall bands as wide as the depth error eat the clearance of small rooms, which then last only over
   the smaller thresholds, while the single merged home lasts longest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

_OFFSET = 1 << 30  # cell indices are offset to be non-negative before packing two into an int64


@dataclass
class FloorRaster:
    """free: traversable cells; room_space: cells inside the observed rooms that are not wall; origin:
    metres of cell [0, 0]; cell: metres."""

    free: np.ndarray
    room_space: np.ndarray
    origin: np.ndarray
    cell: float


@dataclass
class PlaceGraph:
    """positions (P, 2) metres; clearance (P,) metres; edges (E, 2) indices of places joined by free floor."""

    positions: np.ndarray
    clearance: np.ndarray
    edges: np.ndarray

    @classmethod
    def empty(cls) -> PlaceGraph:
        return cls(np.zeros((0, 2)), np.zeros(0), np.zeros((0, 2), np.int64))

    def __len__(self) -> int:
        return len(self.positions)


def _cells(keys: np.ndarray) -> np.ndarray:
    """(N, 2) cell indices of packed (N,) keys."""
    return np.stack([keys >> 32, keys & 0xFFFFFFFF], axis=1) - _OFFSET


class FloorGrid:
    """Sparse counts of free and occupied observations per floor cell. Seeing past a wall cell is judged
    per direction bin of ``bin_rad`` radians around the camera, ``margin_m`` + ``margin_rel`` × range short
    of the farthest point of the bin."""

    def __init__(self, cell: float, max_height: float, min_height: float = 0.1, max_cells: int = 4_000_000,
                 bin_rad: float = 0.01, margin_m: float = 0.1, margin_rel: float = 0.1):  # fmt: skip
        self.cell, self.min_height, self.max_height, self.max_cells = cell, min_height, max_height, max_cells
        self.bin_rad, self.margin_m, self.margin_rel = bin_rad, margin_m, margin_rel
        self.free: dict[int, int] = {}  # counts of points
        self.occupied: dict[int, int] = {}
        self.wall: dict[int, int] = {}
        self.wall_views: dict[int, int] = {}  # counts of clouds
        self.seen_past: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self.free.keys() | self.occupied.keys())

    def _keys(self, xy: np.ndarray) -> np.ndarray:
        ij = np.floor(xy / self.cell).astype(np.int64) + _OFFSET
        return (ij[:, 0] << 32) | ij[:, 1]

    @staticmethod
    def _add(table: dict[int, int], keys: np.ndarray) -> None:
        uniq, counts = np.unique(keys, return_counts=True)
        for k, c in zip(uniq.tolist(), counts.tolist()):
            table[k] = table.get(k, 0) + c

    def integrate(self, points: np.ndarray, floor_mask: np.ndarray, wall_mask: np.ndarray, skip_mask: np.ndarray,
                  floor_z: float, sensor: np.ndarray) -> None:  # fmt: skip
        """World points (N, 3) seen from ``sensor`` (3,); ``floor_mask`` marks floor points (their cell is
        seen free), ``wall_mask`` wall points, ``skip_mask`` points that are never obstacles (ceiling)."""
        h = points[:, 2] - floor_z
        obstacle = ~floor_mask & ~skip_mask & (h > self.min_height) & (h < self.max_height)
        self._add(self.occupied, self._keys(points[obstacle, :2]))
        walls = self._keys(points[obstacle & wall_mask, :2])
        self._add(self.wall, walls)
        wall_cells = np.unique(walls)
        self._add(self.wall_views, wall_cells)
        self._add(self.free, self._keys(points[floor_mask, :2]))
        self._see_past_walls(points[:, :2], np.asarray(sensor, float)[:2], wall_cells)
        if len(self) > self.max_cells:  # a far-travelling robot: forget the cells seen least
            for table in (self.free, self.occupied, self.wall, self.wall_views, self.seen_past):
                for k in sorted(table, key=table.get)[: len(table) // 4]:
                    del table[k]

    def _see_past_walls(self, xy: np.ndarray, sensor_xy: np.ndarray, walls: np.ndarray) -> None:
        """Count a view past every wall cell nearer than the farthest point (of ``xy`` (N, 2)) of its
        direction, unless this cloud put wall points in it (``walls``: their unique keys): a view grazing
        a wall sees past the centres of the wall's own cells."""
        if not self.wall_views or not len(xy):
            return
        bins = int(np.ceil(2 * np.pi / self.bin_rad)) + 1

        def polar(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            azimuth = (np.arctan2(d[:, 1], d[:, 0]) + np.pi) // self.bin_rad
            return azimuth.astype(np.int64), np.hypot(d[:, 0], d[:, 1])

        azimuth, reach = polar(xy - sensor_xy)
        farthest = np.zeros(bins)
        np.maximum.at(farthest, azimuth, reach)
        keys = np.fromiter(self.wall_views.keys(), np.int64, len(self.wall_views))
        azimuth, reach = polar((_cells(keys) + 0.5) * self.cell - sensor_xy)
        past = reach < farthest[azimuth] * (1 - self.margin_rel) - self.margin_m
        past &= ~np.isin(keys, walls, assume_unique=True)
        self._add(self.seen_past, keys[past])

    def raster(self, close_cells: int = 2) -> FloorRaster:
        """The grid as masks over its bounding box.

        Floor seen through gaps leaves holes, so the seen-floor mask is closed over ``close_cells``; a cell
        is free unless obstacles were seen in it at least a quarter as often as floor, and a wall where
        wall points were seen at least a quarter as often as floor by more clouds than saw past it. Room
        space is every cell seen as floor or obstacle, closed and hole-filled, minus the walls.
        """
        keys = np.fromiter(self.free.keys() | self.occupied.keys(), np.int64)
        if not len(keys):
            return FloorRaster(np.zeros((0, 0), bool), np.zeros((0, 0), bool), np.zeros(2), self.cell)
        ij = _cells(keys)
        lo = ij.min(0) - 1 - close_cells
        shape = ij.max(0) - lo + 2 + close_cells
        f, o, w, views, past = (
            np.array([t.get(k, 0) for k in keys.tolist()])
            for t in (self.free, self.occupied, self.wall, self.wall_views, self.seen_past)
        )
        cells = ij - lo

        def mask(values: np.ndarray) -> np.ndarray:
            m = np.zeros(shape, bool)
            m[cells[:, 0], cells[:, 1]] = values
            return m

        seen, blocked = mask(f > 0), mask(4 * o >= np.maximum(f, 1))
        wall = mask((4 * w >= np.maximum(f, 1)) & (views > past))
        if close_cells:
            seen = ndimage.binary_closing(seen, iterations=close_cells)
        inside = ndimage.binary_fill_holes(ndimage.binary_closing(seen | blocked, iterations=max(close_cells, 1)))
        return FloorRaster(seen & ~blocked, inside & ~wall, lo * self.cell, self.cell)


def extract_places(raster: FloorRaster, spacing: float, min_clearance: float) -> PlaceGraph:
    """Places on a floor raster (see the module docstring)."""
    free, origin, cell = raster.free, raster.origin, raster.cell
    if free.size == 0:
        return PlaceGraph.empty()
    clearance = ndimage.distance_transform_edt(free) * cell
    block = max(1, round(spacing / cell))
    h, w = free.shape
    bh, bw = -(-h // block), -(-w // block)
    padded = np.full((bh * block, bw * block), -1.0)
    padded[:h, :w] = clearance
    blocks = padded.reshape(bh, block, bw, block).transpose(0, 2, 1, 3).reshape(bh, bw, block * block)
    best = blocks.argmax(2)
    best_clear = np.take_along_axis(blocks, best[..., None], 2)[..., 0]
    bi, bj = np.nonzero(best_clear >= min_clearance)
    index = -np.ones((bh, bw), np.int64)
    index[bi, bj] = np.arange(len(bi))
    ci = bi * block + best[bi, bj] // block
    cj = bj * block + best[bi, bj] % block
    positions = origin + (np.stack([ci, cj], 1) + 0.5) * cell
    return PlaceGraph(positions, best_clear[bi, bj], _free_links(clearance, bi, bj, ci, cj, index))


def _free_links(clearance: np.ndarray, bi: np.ndarray, bj: np.ndarray, ci: np.ndarray, cj: np.ndarray,
                index: np.ndarray) -> np.ndarray:  # fmt: skip
    """(E, 2) pairs of places in neighbouring blocks whose straight segment, sampled once per cell of
    its longer axis, stays in free space. Places: block (bi, bj), cell (ci, cj); ``index``: the place
    of each block (-1: none). All segments at once: an update links a thousand pairs."""
    bh, bw = index.shape
    pairs = []
    for di, dj in ((0, 1), (1, 0), (1, 1), (1, -1)):
        ni, nj = bi + di, bj + dj
        ok = (ni >= 0) & (ni < bh) & (nj >= 0) & (nj < bw)
        a = np.flatnonzero(ok)
        b = index[ni[ok], nj[ok]]
        pairs.append(np.stack([a[b >= 0], b[b >= 0]], 1))
    pairs = np.concatenate(pairs)
    if not len(pairs):
        return np.zeros((0, 2), np.int64)
    a, b = pairs[:, 0], pairs[:, 1]
    n = np.maximum(abs(ci[b] - ci[a]), abs(cj[b] - cj[a])) + 1
    k = np.minimum(np.arange(n.max())[None, :], (n - 1)[:, None]).astype(float)

    def along(c: np.ndarray) -> np.ndarray:
        start, stop = c[a].astype(float)[:, None], c[b].astype(float)[:, None]
        return np.round(k * ((stop - start) / (n - 1)[:, None]) + start).astype(int)

    return pairs[clearance[along(ci), along(cj)].min(1) > 0]


def segment_rooms(raster: FloorRaster, places: PlaceGraph, min_dilation: float, max_dilation: float,
                  min_room_area: float, plateau_ratio: float, step: float = 0.05) -> np.ndarray:  # fmt: skip
    """(P,) room index per place (-1: none) by clearance filtration (see the module docstring)."""
    rooms = -np.ones(len(places), np.int64)
    if len(places) == 0:
        return rooms
    clearance = ndimage.distance_transform_edt(raster.room_space)  # cells
    min_cells = min_room_area / raster.cell**2

    def seeds(delta: float) -> tuple[np.ndarray, int]:
        # in cells, rounded: a clearance of 3 cells is not above 0.3 m of 0.1 m cells (0.3 / 0.1 < 3.0)
        labelled, n = ndimage.label(clearance > round(delta / raster.cell, 6))
        sizes = np.bincount(labelled.ravel(), minlength=n + 1)
        big = np.flatnonzero(sizes >= min_cells)
        big = big[big > 0]
        relabel = np.zeros(n + 1, np.int64)
        relabel[big] = np.arange(1, len(big) + 1)
        return relabel[labelled], len(big)

    deltas = np.arange(min_dilation, max_dilation + 1e-9, step)
    best = best_plateau([seeds(d)[1] for d in deltas], plateau_ratio)
    if best is None:
        return rooms
    seed, _ = seeds(deltas[best])
    # every place joins the room of its nearest seed cell
    _, (ni, nj) = ndimage.distance_transform_edt(seed == 0, return_indices=True)
    nearest = seed[ni, nj]
    cells = np.floor((places.positions - raster.origin) / raster.cell).astype(np.int64)
    cells = np.clip(cells, 0, np.array(seed.shape) - 1)
    rooms = nearest[cells[:, 0], cells[:, 1]] - 1
    _, dense = np.unique(rooms, return_inverse=True)
    return np.where(rooms >= 0, dense - (rooms.min() < 0), -1)


def best_plateau(counts: list[int], ratio: float) -> int | None:
    """Index of δ* in a filtration's component ``counts`` (one per threshold) by Hydra's PLATEAU mode:
    runs of equal counts last from their first threshold to their last; among the runs that last at
    least ``ratio`` × the longest, the first with the most components, at its start. None: no run has
    a component."""
    starts = [0] + [i for i in range(1, len(counts)) if counts[i] != counts[i - 1]]
    stops = [*starts[1:], len(counts)]
    lifetimes = [stop - 1 - start for start, stop in zip(starts, stops)]
    threshold = ratio * max(lifetimes, default=0)
    lasting = [s for s, life in zip(starts, lifetimes) if life >= threshold and counts[s] > 0]
    return max(lasting, key=lambda s: counts[s], default=None)
