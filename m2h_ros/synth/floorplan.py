"""The floor plan of a procedural home: a rectangular footprint split into 2–4 rooms (BSP), one door
on each split line between the adjacent pair of rooms with the longest shared wall.

Coordinates are metres in the world frame: x east, y north, z up, the floor at z = 0. A room's
rectangle includes its wall band; each room owns its inner wall slabs, so no two faces coincide.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

WALL_T = 0.10  # wall thickness (m)
DOOR_W, DOOR_H = 0.9, 2.05  # door opening (m)
ROOM_TYPES = ("bedroom", "living", "office", "dining")

Box2 = tuple[np.ndarray, np.ndarray]  # an axis-aligned footprint (lo, hi), each (2,)


@dataclass
class Wall:
    """One side of a room: its slab's centre line at ``fixed`` across, spanning ``a0``–``a1`` along."""

    inst: int  # instance id of the wall object
    fixed: float
    a0: float
    a1: float
    exterior: bool  # on the footprint's outline (windows go only there)
    used: list[tuple[float, float]]  # spans along the wall taken by doors, windows and pictures


@dataclass
class Room:
    id: int
    rect: tuple[float, float, float, float]  # x0, y0, x1, y1, the wall band included
    type: str  # one of ROOM_TYPES
    walls: dict[str, Wall] = field(default_factory=dict)  # by side: N, S, E, W
    wall_items: list[tuple[str, float, float, float]] = field(default_factory=list)  # (side, a0, a1, bottom z)

    @property
    def inner(self) -> tuple[float, float, float, float]:
        """The floor inside the walls: x0, y0, x1, y1."""
        x0, y0, x1, y1 = self.rect
        return x0 + WALL_T, y0 + WALL_T, x1 - WALL_T, y1 - WALL_T

    def polygon(self) -> list[tuple[float, float]]:
        x0, y0, x1, y1 = self.rect
        return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


@dataclass
class Door:
    """An opening on the split line ``axis`` = ``s`` (``x``: a vertical line x = s), centred at ``pos`` along it."""

    rooms: tuple[int, int]  # (the room on the low side, the room on the high side)
    axis: str
    s: float
    pos: float
    width: float = DOOR_W
    inst: int | None = None  # instance id of the door leaf; None: an open doorway

    @property
    def position(self) -> tuple[float, float]:
        return (self.s, self.pos) if self.axis == "x" else (self.pos, self.s)

    def opening(self) -> tuple[float, float]:
        return self.pos - self.width / 2, self.pos + self.width / 2


@dataclass
class FloorPlan:
    extent: tuple[float, float]  # footprint width (x) and depth (y)
    height: float  # floor to ceiling
    rooms: list[Room]
    doors: list[Door]

    def openings(self, room: Room, side: str) -> list[tuple[float, float]]:
        """The door openings in ``side`` of ``room``, as spans along that wall, in order."""
        x0, y0, x1, y1 = room.rect
        on = {"E": ("x", x1), "W": ("x", x0), "N": ("y", y1), "S": ("y", y0)}[side]
        return sorted(d.opening() for d in self.doors
                      if room.id in d.rooms and d.axis == on[0] and abs(d.s - on[1]) < 1e-9)  # fmt: skip


def floor_plan(rng: np.random.Generator, n_rooms: tuple[int, int] = (2, 4)) -> FloorPlan:
    """Draw a footprint, split it into rooms and place the doors."""
    W, D = rng.uniform(7, 11), rng.uniform(5.5, 8)
    height = rng.uniform(2.5, 2.9)
    leaves, splits = [(0.0, 0.0, W, D)], []
    target = int(rng.integers(n_rooms[0], n_rooms[1] + 1))
    while len(leaves) < target:  # split the largest leaf across its longer side
        leaves.sort(key=lambda r: -(r[2] - r[0]) * (r[3] - r[1]))
        x0, y0, x1, y1 = leaves.pop(0)
        if x1 - x0 >= y1 - y0:
            s = rng.uniform(0.38, 0.62) * (x1 - x0) + x0
            leaves += [(x0, y0, s, y1), (s, y0, x1, y1)]
            splits.append(("x", s))
        else:
            s = rng.uniform(0.38, 0.62) * (y1 - y0) + y0
            leaves += [(x0, y0, x1, s), (x0, s, x1, y1)]
            splits.append(("y", s))
    rooms = [Room(i, r, ROOM_TYPES[rng.integers(4)]) for i, r in enumerate(leaves)]
    doors = []
    for axis, s in splits:
        best = _longest_shared_wall(rooms, axis, s)
        if best:
            a, b, lo, hi = best
            doors.append(Door((a, b), axis, s, rng.uniform(lo + 0.7, hi - 0.7)))
    return FloorPlan((W, D), height, rooms, doors)


def _longest_shared_wall(rooms: list[Room], axis: str, s: float) -> tuple[int, int, float, float] | None:
    """(low room, high room, start, end) of the longest wall over 1.6 m that two rooms share on the line."""
    best = None
    for ra in rooms:
        for rb in rooms:
            A, B = ra.rect, rb.rect
            if axis == "x" and abs(A[2] - s) < 1e-9 and abs(B[0] - s) < 1e-9:
                lo, hi = max(A[1], B[1]), min(A[3], B[3])
            elif axis == "y" and abs(A[3] - s) < 1e-9 and abs(B[1] - s) < 1e-9:
                lo, hi = max(A[0], B[0]), min(A[2], B[2])
            else:
                continue
            if hi - lo > 1.6 and (best is None or hi - lo > best[3] - best[2]):
                best = (ra.id, rb.id, lo, hi)
    return best
