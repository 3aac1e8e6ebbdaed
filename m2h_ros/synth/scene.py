"""Procedural homes: a floor plan (:mod:`~m2h_ros.synth.floorplan`), the rooms' shells
(:mod:`~m2h_ros.synth.shell`) and their furniture (:mod:`~m2h_ros.synth.furnish`), all drawn from one
seed, kept as a flat table of parts that every renderer and the ground truth read.

Ground truth (:meth:`Scene.ground_truth`): every object (class, instance id, room, support parent,
the rooms a door connects, centroid and axis-aligned box), every room (id, type, polygon), every door.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from m2h_ros.synth.floorplan import Door, FloorPlan, Room, floor_plan
from m2h_ros.synth.furnish import furnish
from m2h_ros.synth.parts import BOX, CLASS_ID, part_aabbs, rot2
from m2h_ros.synth.shell import build_room, door_leaf


@dataclass
class SceneObject:
    inst: int  # instance id (0 is void)
    cls: str  # class name in the synthetic label space
    room: int
    yaw: float
    parent: int | None  # the instance it stands on or hangs from
    connects: list[int] | None = None  # a door's two rooms


@dataclass
class Light:
    room: int
    pos: np.ndarray  # (3,) metres
    power: float
    color: np.ndarray  # (3,) linear RGB


class Scene:
    """One home of seed ``seed``; :meth:`generate` builds it."""

    def __init__(self, seed: int = 0):
        self.rng = np.random.default_rng(seed)
        self.parts: list[dict] = []
        self.objects: list[SceneObject] = []
        self.lights: list[Light] = []
        self.plan: FloorPlan | None = None

    @property
    def rooms(self) -> list[Room]:
        return self.plan.rooms

    @property
    def doors(self) -> list[Door]:
        return self.plan.doors

    @property
    def extent(self) -> tuple[float, float]:
        return self.plan.extent

    @property
    def height(self) -> float:
        return self.plan.height

    def generate(self, n_rooms: tuple[int, int] = (2, 4)) -> Scene:
        self.plan = floor_plan(self.rng, n_rooms)
        for room in self.rooms:
            build_room(self, room)
        for door in self.doors:
            door_leaf(self, door)
        for room in self.rooms:
            furnish(self, room)
        return self

    def add(self, groups, room: int, at: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0),
            parent: int | None = None) -> list[int]:  # fmt: skip
        """Add an object made of ``groups`` [(class, parts)] at ``at`` = (x, y, z, yaw); each group is one
        instance, the first the support (parent) of the rest. Returns their instance ids."""
        x, y, z, yaw = at
        R = rot2(yaw)
        ids = []
        for gi, (cls, P) in enumerate(groups):
            iid = len(self.objects) + 1  # 0 = void
            for p in P:
                q = dict(p)
                q["c"] = np.r_[R @ p["c"][:2] + (x, y), p["c"][2] + z]
                q["yaw"] = p["yaw"] + yaw
                q["inst"], q["cls"], q["seed"] = iid, CLASS_ID[cls], int(self.rng.integers(1 << 30))
                self.parts.append(q)
            self.objects.append(SceneObject(iid, cls, room, float(yaw), ids[0] if gi > 0 else parent))
            ids.append(iid)
        return ids

    def add_light(self, room: int, pos: np.ndarray, power: float, color: np.ndarray) -> None:
        self.lights.append(Light(room, pos, power, color))

    def arrays(self) -> dict[str, np.ndarray]:
        """The part table as arrays, one row per part, as every renderer reads it."""
        P = self.parts
        return dict(
            type=np.array([p["t"] for p in P], np.int32),
            center=np.array([p["c"] for p in P], np.float64),
            half=np.array([p["h"] for p in P], np.float64),
            yaw=np.array([p["yaw"] for p in P], np.float64),
            inst=np.array([p["inst"] for p in P], np.int32),
            cls=np.array([p["cls"] for p in P], np.int32),
            mat=np.array([p["mat"] for p in P], np.int32),
            col=np.array([p["col"] for p in P], np.float32),
            col2=np.array([p["col2"] for p in P], np.float32),
            seed=np.array([p["seed"] for p in P], np.int64),
        )

    def ground_truth(self, seed: int) -> dict:
        """The scene's ground truth as plain JSON-able data (see the module docstring)."""
        r4 = lambda values: [round(float(v), 4) for v in values]  # noqa: E731
        rooms = [{"id": int(r.id), "type": r.type, "polygon": [r4(p) for p in r.polygon()]} for r in self.rooms]
        doors = [
            {"rooms": [int(a) for a in d.rooms], "instance": d.inst, "position": r4(d.position)} for d in self.doors
        ]
        return {
            "seed": int(seed),
            "extent_m": r4(self.extent),
            "height_m": round(float(self.height), 4),
            "rooms": rooms,
            "doors": doors,
            "objects": self.object_list(),
        }

    def object_list(self) -> list[dict]:
        """Every object with parts: ids, class, room, support parent, yaw, and its box and centroids."""
        A = self.arrays()
        lo, hi = part_aabbs(A)
        out = []
        for o in self.objects:
            m = A["inst"] == o.inst
            if not m.any():
                continue
            box_lo, box_hi = lo[m].min(0), hi[m].max(0)
            vol = np.prod(2 * A["half"][m], axis=1)
            vol = np.where(A["type"][m] == BOX, vol, vol * np.pi / 4)
            cen_vol = (A["center"][m] * vol[:, None]).sum(0) / vol.sum()
            out.append({"inst": o.inst, "cls": o.cls, "cls_id": CLASS_ID[o.cls], "room": o.room, "parent": o.parent,
                        "yaw": round(o.yaw, 4), "connects": o.connects,
                        "centroid": ((box_lo + box_hi) / 2).round(4).tolist(), "centroid_vol": cen_vol.round(4).tolist(),
                        "aabb_min": box_lo.round(4).tolist(), "aabb_max": box_hi.round(4).tolist()})  # fmt: skip
        return out
