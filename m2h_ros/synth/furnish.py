"""Furnishing a room by its type: templates placed against a wall or freely by rejection sampling
against the room's occupied footprints, and small objects put on top of their support."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from m2h_ros.synth.floorplan import Box2, Room
from m2h_ros.synth.parts import rot2
from m2h_ros.synth.shell import wall_item
from m2h_ros.synth.templates import TEMPLATES, t_box, t_lamp, t_tv

if TYPE_CHECKING:
    from m2h_ros.synth.scene import Scene

Pose = tuple[float, float, float]  # x, y, yaw on the floor
WALL_YAW = {"S": 0.0, "N": np.pi, "W": -np.pi / 2, "E": np.pi / 2}  # a template's back against each side


def footprint(groups, x: float, y: float, yaw: float) -> Box2:
    """The axis-aligned footprint of a template's parts placed at (x, y, yaw)."""
    pts = []
    R = rot2(yaw)
    for _, P in groups:
        for p in P:
            for sx in (-1, 1):
                for sy in (-1, 1):
                    pts.append(R @ (rot2(p["yaw"]) @ (sx * p["h"][0], sy * p["h"][1]) + p["c"][:2]))
    pts = np.array(pts) + (x, y)
    return pts.min(0), pts.max(0)


class Furnisher:
    """Places the furniture of one room; ``occupied`` holds the footprints taken (doorways included)."""

    def __init__(self, scene: Scene, room: Room):
        self.scene, self.room, self.rng = scene, room, scene.rng
        self.occupied: list[Box2] = []
        for d in scene.doors:  # keep the floor in front of each doorway clear
            if room.id in d.rooms:
                (x, y), (ax, ay) = d.position, (1.1, 0.65) if d.axis == "x" else (0.65, 1.1)
                self.occupied.append((np.array([x - ax, y - ay]), np.array([x + ax, y + ay])))

    def free(self, box: Box2, margin: float = 0.02) -> bool:
        """Whether ``box`` lies inside the room's walls and clear of every occupied footprint."""
        lo, hi = box
        ix0, iy0, ix1, iy1 = self.room.inner
        if lo[0] < ix0 - 1e-6 or lo[1] < iy0 - 1e-6 or hi[0] > ix1 + 1e-6 or hi[1] > iy1 + 1e-6:
            return False
        return not any((lo < b + margin).all() and (hi > a - margin).all() for a, b in self.occupied)

    def against_wall(self, groups, tries: int = 40) -> Pose | None:
        """A free pose with the template's back to a wall, clear of the windows and pictures above it."""
        ix0, iy0, ix1, iy1 = self.room.inner
        rng = self.rng
        back = -footprint(groups, 0, 0, 0)[0][1]  # distance from the template's origin to its back
        top = max(p["c"][2] + p["h"][2] for _, P in groups for p in P)
        for _ in range(tries):
            side = "NSEW"[rng.integers(4)]
            yaw = WALL_YAW[side]
            if side == "S":
                x, y = rng.uniform(ix0, ix1), iy0 + back + 0.01
            elif side == "N":
                x, y = rng.uniform(ix0, ix1), iy1 - back - 0.01
            elif side == "W":
                x, y = ix0 + back + 0.01, rng.uniform(iy0, iy1)
            else:
                x, y = ix1 - back - 0.01, rng.uniform(iy0, iy1)
            lo, hi = footprint(groups, x, y, yaw)
            ax = 0 if side in "NS" else 1
            blocked = any(sd == side and hi[ax] > a0 - 0.05 and lo[ax] < a1 + 0.05 and top > z0 - 0.05
                          for sd, a0, a1, z0 in self.room.wall_items)  # fmt: skip
            if not blocked and self.free((lo, hi)):
                self.occupied.append((lo, hi))
                return x, y, yaw
        return None

    def anywhere(self, groups, yaw: float | None = None, center: bool = False, tries: int = 40,
                 occupy: bool = True) -> Pose | None:  # fmt: skip
        """A free pose (near the room's centre with ``center``); ``occupy=False`` ignores and takes no space."""
        ix0, iy0, ix1, iy1 = self.room.inner
        rng = self.rng
        for _ in range(tries):
            yw = rng.uniform(-np.pi, np.pi) if yaw is None else yaw
            if center:
                x = rng.normal((ix0 + ix1) / 2, 0.25)
                y = rng.normal((iy0 + iy1) / 2, 0.25)
            else:
                x, y = rng.uniform(ix0, ix1), rng.uniform(iy0, iy1)
            box = footprint(groups, x, y, yw)
            if not occupy or self.free(box):
                if occupy:
                    self.occupied.append(box)
                return x, y, yw
        return None

    def on_top(self, tops, parent: Pose, groups) -> tuple[float, float, float, float] | None:
        """A pose (x, y, z, yaw) for ``groups`` on the first top surface ``(z, half x, half y)`` of its parent."""
        if not tops:
            return None
        z, hx, hy = tops[0]
        px, py, pyaw = parent
        lo, hi = footprint(groups, 0, 0, 0)
        ex, ey = (hi - lo) / 2
        if ex > hx or ey > hy:
            return None
        lx, ly = self.rng.uniform(-hx + ex, hx - ex), self.rng.uniform(-hy + ey, hy - ey)
        x, y = rot2(pyaw) @ (lx, ly) + (px, py)
        return x, y, z, pyaw + self.rng.normal(0, 0.2)

    def template(self, name: str, *args):
        return TEMPLATES[name](self.rng, *args)

    def add(self, groups, pose, parent: int | None = None) -> list[int]:
        x, y, *z, yaw = pose
        return self.scene.add(groups, self.room.id, at=(x, y, z[0] if z else 0.0, yaw), parent=parent)

    def wall_object(self, name: str, *args, on_top=()) -> Pose | None:
        """Template ``name`` against a wall; each maker of ``on_top`` puts an object on it with probability 3/4."""
        groups, tops = self.template(name, *args)
        pose = self.against_wall(groups)
        if pose is None:
            return None
        ids = self.add(groups, pose)
        for make in on_top:
            if self.rng.random() < 0.75:
                small, _ = make()
                at = self.on_top(tops, pose, small)
                if at:
                    self.add(small, at, parent=ids[0])
        return pose


def furnish(scene: Scene, room: Room) -> None:
    """Windows, pictures, a rug, the furniture of the room's type, then shelves, lamps, plants and boxes."""
    f, rng = Furnisher(scene, room), scene.rng
    wall_item(scene, room, "window", exterior_only=True)
    for _ in range(int(rng.integers(0, 3))):
        wall_item(scene, room, "picture")
    if rng.random() < 0.6:  # the rug first: it takes no floor space
        g, _ = f.template("rug")
        f.add(g, f.anywhere(g, yaw=rng.choice([0, np.pi / 2]), center=True, occupy=False))
    ROOM_FURNITURE[room.type](f)
    for _ in range(int(rng.integers(1, 3))):
        f.wall_object("shelf")
    if rng.random() < 0.7:
        f.wall_object("lamp")
    for _ in range(int(rng.integers(0, 3))):
        f.wall_object("plant")
    for _ in range(int(rng.integers(0, 3))):
        g, _ = f.template("box")
        pose = f.anywhere(g)
        if pose:
            f.add(g, pose)
    if rng.random() < 0.5:
        f.wall_object("chair")


def _bedroom(f: Furnisher) -> None:
    f.wall_object("bed")
    for _ in range(int(f.rng.integers(1, 3))):
        f.wall_object("cabinet", None, None, on_top=(lambda: t_lamp(f.rng, table=True),))


def _living(f: Furnisher) -> None:
    rng = f.rng
    f.wall_object("sofa")
    f.wall_object("cabinet", rng.uniform(1.0, 1.6), rng.uniform(0.45, 0.6), on_top=(lambda: t_tv(rng),))
    g, _ = f.template("table", True)
    pose = f.anywhere(g, yaw=rng.choice([0, np.pi / 2]), center=True)
    if pose:
        f.add(g, pose)


def _office(f: Furnisher) -> None:
    rng = f.rng
    desk = f.wall_object("table", on_top=(lambda: t_tv(rng, True), lambda: t_lamp(rng, table=True)))
    if desk:
        g, _ = f.template("chair")
        x, y = rot2(desk[2]) @ (rng.uniform(-0.2, 0.2), 0.65) + desk[:2]
        box = footprint(g, x, y, desk[2] + np.pi)
        if f.free(box):
            f.occupied.append(box)
            f.add(g, (x, y, desk[2] + np.pi + rng.normal(0, 0.3)))
    f.wall_object("cabinet", on_top=(lambda: t_box(rng),))


def _dining(f: Furnisher) -> None:
    """A table with chairs around it (each seat taken with probability 3/4) and maybe a box on it."""
    rng = f.rng
    g, tops = f.template("table")
    table = f.anywhere(g, yaw=rng.choice([0, np.pi / 2]), center=True)
    if table:
        tid = f.add(g, table)[0]
        hx, hy = tops[0][1], tops[0][2]
        seats = [(0, hy + 0.3, np.pi), (0, -hy - 0.3, 0), (hx + 0.3, 0, np.pi / 2), (-hx - 0.3, 0, -np.pi / 2)]
        if hx > 0.7:
            seats += [(hx / 2, hy + 0.3, np.pi), (-hx / 2, -hy - 0.3, 0)]
        for sx, sy, syaw in seats:
            if rng.random() < 0.25:
                continue
            gc, _ = f.template("chair")
            x, y = rot2(table[2]) @ (sx, sy) + table[:2]
            box = footprint(gc, x, y, table[2] + syaw)
            if f.free(box, margin=-0.05):
                f.occupied.append(box)
                f.add(gc, (x, y, table[2] + syaw + rng.normal(0, 0.15)))
        if rng.random() < 0.6:
            g2, _ = t_box(rng)
            at = f.on_top(tops, table, g2)
            if at:
                f.add(g2, at, parent=tid)
    f.wall_object("cabinet", on_top=(lambda: t_box(rng),))


ROOM_FURNITURE = {"bedroom": _bedroom, "living": _living, "office": _office, "dining": _dining}
