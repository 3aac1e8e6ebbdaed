"""Procedural homes: a footprint split into 2–4 rooms (BSP) joined by doors, walls with door
openings and lintels, floors, ceilings, ceiling lights, windows and pictures on the walls, and
furniture chosen by room type and placed by rejection sampling. Everything derives from one seed.

Ground truth (:meth:`Scene.ground_truth`): every object (class, instance id, room, support parent,
the rooms a door connects, centroid and axis-aligned box), every room (id, type, polygon), every door.
"""

from __future__ import annotations

import numpy as np

from m2h_ros.synth.parts import (
    BOX,
    CLASS_ID,
    FABRICS,
    M_CARPET,
    M_EMIT,
    M_PAINT,
    M_PLAIN,
    M_PLANK,
    M_PLASTER,
    M_STRIPE,
    M_TILE,
    M_WOOD,
    METAL,
    WALLS,
    WOODS,
    jitter,
    part,
    part_aabbs,
    pick,
    rot2,
)  # fmt: skip
from m2h_ros.synth.templates import TEMPLATES, t_box, t_lamp, t_tv

WALL_T = 0.10  # wall thickness; each room owns its inner wall slabs, so no two faces coincide
DOOR_W, DOOR_H = 0.9, 2.05
ROOM_TYPES = ("bedroom", "living", "office", "dining")


class Scene:
    def __init__(self, seed=0):
        self.rng = np.random.default_rng(seed)
        self.parts, self.objects, self.rooms, self.doors = [], [], [], []
        self.lights = []

    # --- add an object (list of groups) at pose
    def add_groups(self, groups, x, y, z, yaw, room, parent=None):
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
            self.objects.append(
                dict(
                    inst=iid,
                    cls=cls,
                    cls_id=CLASS_ID[cls],
                    room=room,
                    yaw=float(yaw),
                    parent=(ids[0] if gi > 0 else parent),
                )
            )
            ids.append(iid)
        return ids

    # --- build the house
    def generate(self, n_rooms=(2, 4)):
        rng = self.rng
        W, D = rng.uniform(7, 11), rng.uniform(5.5, 8)
        self.H = rng.uniform(2.5, 2.9)
        leaves, splits = [(0.0, 0.0, W, D)], []
        target = int(rng.integers(n_rooms[0], n_rooms[1] + 1))
        while len(leaves) < target:  # BSP split of the footprint
            leaves.sort(key=lambda r: -(r[2] - r[0]) * (r[3] - r[1]))
            x0, y0, x1, y1 = leaves.pop(0)
            if x1 - x0 >= y1 - y0:
                s = rng.uniform(0.38, 0.62) * (x1 - x0) + x0
                leaves += [(x0, y0, s, y1), (s, y0, x1, y1)]
                splits.append(("x", s, y0, y1))
            else:
                s = rng.uniform(0.38, 0.62) * (y1 - y0) + y0
                leaves += [(x0, y0, x1, s), (x0, s, x1, y1)]
                splits.append(("y", s, x0, x1))
        self.extent = (W, D)
        for i, r in enumerate(leaves):
            self.rooms.append(dict(id=i, rect=r, type=ROOM_TYPES[rng.integers(4)]))
        # doors: one per split line, between an adjacent pair of rooms
        for ax, s, _a0, _a1 in splits:
            best = None
            for ra in self.rooms:
                for rb in self.rooms:
                    A, B = ra["rect"], rb["rect"]
                    if ax == "x" and abs(A[2] - s) < 1e-9 and abs(B[0] - s) < 1e-9:
                        lo, hi = max(A[1], B[1]), min(A[3], B[3])
                    elif ax == "y" and abs(A[3] - s) < 1e-9 and abs(B[1] - s) < 1e-9:
                        lo, hi = max(A[0], B[0]), min(A[2], B[2])
                    else:
                        continue
                    if hi - lo > 1.6 and (best is None or hi - lo > best[3] - best[2]):
                        best = (ra["id"], rb["id"], lo, hi)
            if best:
                a, b, lo, hi = best
                pos = rng.uniform(lo + 0.7, hi - 0.7)
                self.doors.append(dict(rooms=(a, b), axis=ax, s=s, pos=pos, w=DOOR_W))
        for r in self.rooms:
            self._build_room(r)
        for d in self.doors:
            self._door_leaf(d)
        for r in self.rooms:
            self._furnish(r)
        return self

    def _door_leaf(self, d):
        rng = self.rng
        if rng.random() > 0.75:
            d["inst"] = None
            return
        a, b = d["rooms"]
        into = rng.integers(2)  # 0: opens into room a (lower side), 1: into b
        hinge_lo = rng.random() < 0.5
        w = d["w"] - 0.02
        th = np.deg2rad(rng.uniform(85, 100))
        sgn_room = -1 if into == 0 else 1  # a is on the low side of the split line
        along = 1 if hinge_lo else -1
        # closed direction along the wall, rotated by th towards the room
        if d["axis"] == "x":
            hinge = np.array([d["s"], d["pos"] - along * d["w"] / 2])
            v0, vn = np.array([0, along]), np.array([sgn_room, 0])
        else:
            hinge = np.array([d["pos"] - along * d["w"] / 2, d["s"]])
            v0, vn = np.array([along, 0]), np.array([0, sgn_room])
        v = np.cos(th) * v0 + np.sin(th) * vn
        c = hinge + v * (w / 2 + 0.01) + np.array([-v[1], v[0]]) * 0.0
        yaw = np.arctan2(v[1], v[0])
        col = pick(rng, [*WOODS, (0.92, 0.92, 0.9)])
        P = [
            part(BOX, (0, 0, (DOOR_H - 0.01) / 2), (w / 2, 0.02, (DOOR_H - 0.01) / 2), M_WOOD, col),
            part(BOX, (w / 2 - 0.08, 0.04, 1.0), (0.05, 0.02, 0.01), M_PLAIN, pick(rng, METAL)),
            part(BOX, (w / 2 - 0.08, -0.04, 1.0), (0.05, 0.02, 0.01), M_PLAIN, pick(rng, METAL)),
        ]
        room = (a, b)[into]
        d["inst"] = self.add_groups([("door", P)], c[0], c[1], 0, yaw, room)[0]
        self.objects[-1]["connects"] = [int(a), int(b)]

    def _wall_openings(self, room, side):
        x0, y0, x1, y1 = room["rect"]
        out = []
        for d in self.doors:
            if room["id"] not in d["rooms"]:
                continue
            if d["axis"] == "x" and side in "EW":
                if (side == "E" and abs(d["s"] - x1) < 1e-9) or (side == "W" and abs(d["s"] - x0) < 1e-9):
                    out.append((d["pos"] - d["w"] / 2, d["pos"] + d["w"] / 2))
            if d["axis"] == "y" and side in "NS":
                if (side == "N" and abs(d["s"] - y1) < 1e-9) or (side == "S" and abs(d["s"] - y0) < 1e-9):
                    out.append((d["pos"] - d["w"] / 2, d["pos"] + d["w"] / 2))
        return sorted(out)

    def _build_room(self, room):
        rng, H, t = self.rng, self.H, WALL_T
        x0, y0, x1, y1 = room["rect"]
        rid = room["id"]
        wc = pick(rng, WALLS)
        wmat = M_STRIPE if rng.random() < 0.3 else M_PLASTER
        wc2 = jitter(rng, wc, 0.08)
        fmat = [M_PLANK, M_TILE, M_CARPET][rng.integers(3)]
        fc = pick(rng, WOODS) if fmat == M_PLANK else (pick(rng, WALLS) * 0.8 if fmat == M_TILE else pick(rng, FABRICS))
        # floor & ceiling (slabs covering the room including its wall band)
        self.add_groups(
            [
                (
                    "floor",
                    [
                        part(
                            BOX,
                            ((x0 + x1) / 2, (y0 + y1) / 2, -0.05),
                            ((x1 - x0) / 2, (y1 - y0) / 2, 0.05),
                            fmat,
                            fc,
                            fc * 0.7,
                        )
                    ],
                )
            ],
            0,
            0,
            0,
            0,
            rid,
        )
        self.add_groups(
            [
                (
                    "ceiling",
                    [
                        part(
                            BOX,
                            ((x0 + x1) / 2, (y0 + y1) / 2, H + 0.05),
                            ((x1 - x0) / 2, (y1 - y0) / 2, 0.05),
                            M_PLASTER,
                            (0.92, 0.92, 0.9),
                        )
                    ],
                )
            ],
            0,
            0,
            0,
            0,
            rid,
        )
        room["walls"] = {}
        for side in "NSEW":
            if side in "NS":
                a0, a1 = x0, x1
                fixed = (y1 - t / 2) if side == "N" else (y0 + t / 2)
            else:
                a0, a1 = y0 + t, y1 - t
                fixed = (x1 - t / 2) if side == "E" else (x0 + t / 2)
            segs, cur = [], a0
            P = []
            for o0, o1 in self._wall_openings(room, side):
                segs.append((cur, o0))
                P.append((o0, o1, DOOR_H, H))  # lintel above the door
                cur = o1
            segs.append((cur, a1))
            boxes = [(s0, s1, 0.0, H) for s0, s1 in segs if s1 - s0 > 1e-3] + P
            parts = []
            for s0, s1, z0, z1 in boxes:
                if side in "NS":
                    c, h = ((s0 + s1) / 2, fixed, (z0 + z1) / 2), ((s1 - s0) / 2, t / 2, (z1 - z0) / 2)
                else:
                    c, h = (fixed, (s0 + s1) / 2, (z0 + z1) / 2), (t / 2, (s1 - s0) / 2, (z1 - z0) / 2)
                parts.append(part(BOX, c, h, wmat, wc, wc2))
            iid = self.add_groups([("wall", parts)], 0, 0, 0, 0, rid)[0]
            room["walls"][side] = dict(
                inst=iid,
                fixed=fixed,
                a0=a0,
                a1=a1,
                exterior=(side == "W" and x0 == 0)
                or (side == "S" and y0 == 0)
                or (side == "E" and abs(x1 - self.extent[0]) < 1e-9)
                or (side == "N" and abs(y1 - self.extent[1]) < 1e-9),
                used=list(self._wall_openings(room, side)),
            )
        # a ceiling light per room (not geometry, just a point light)
        self.lights.append(
            dict(
                room=rid,
                pos=np.array(
                    [(x0 + x1) / 2 + rng.uniform(-0.3, 0.3), (y0 + y1) / 2 + rng.uniform(-0.3, 0.3), H - 0.25]
                ),
                I=rng.uniform(4.0, 7.0),
                col=jitter(rng, (1.0, 0.95, 0.85), 0.03),
            )
        )

    # --- furniture placement
    def _inner(self, room):
        x0, y0, x1, y1 = room["rect"]
        return x0 + WALL_T, y0 + WALL_T, x1 - WALL_T, y1 - WALL_T

    @staticmethod
    def _aabb_of(groups, x, y, yaw):
        pts = []
        R = rot2(yaw)
        for _, P in groups:
            for p in P:
                for sx in (-1, 1):
                    for sy in (-1, 1):
                        pts.append(R @ (rot2(p["yaw"]) @ (sx * p["h"][0], sy * p["h"][1]) + p["c"][:2]))
        pts = np.array(pts) + (x, y)
        return pts.min(0), pts.max(0)

    def _free(self, lo, hi, room, occ, margin=0.02):
        ix0, iy0, ix1, iy1 = self._inner(room)
        if lo[0] < ix0 - 1e-6 or lo[1] < iy0 - 1e-6 or hi[0] > ix1 + 1e-6 or hi[1] > iy1 + 1e-6:
            return False
        for a, b in occ:
            if (lo < b + margin).all() and (hi > a - margin).all():
                return False
        return True

    def _door_keepout(self, room):
        occ = []
        for d in self.doors:
            if room["id"] in d["rooms"]:
                if d["axis"] == "x":
                    occ.append((np.array([d["s"] - 1.1, d["pos"] - 0.65]), np.array([d["s"] + 1.1, d["pos"] + 0.65])))
                else:
                    occ.append((np.array([d["pos"] - 0.65, d["s"] - 1.1]), np.array([d["pos"] + 0.65, d["s"] + 1.1])))
        return occ

    def _place_wall(self, room, groups, occ, tries=40):
        ix0, iy0, ix1, iy1 = self._inner(room)
        rng = self.rng
        lo0, _hi0 = self._aabb_of(groups, 0, 0, 0)
        depth_back = -lo0[1]  # distance origin -> back
        for _ in range(tries):
            side = "NSEW"[rng.integers(4)]
            yaw = dict(S=0.0, N=np.pi, W=-np.pi / 2, E=np.pi / 2)[side]
            if side == "S":
                x, y = rng.uniform(ix0, ix1), iy0 + depth_back + 0.01
            elif side == "N":
                x, y = rng.uniform(ix0, ix1), iy1 - depth_back - 0.01
            elif side == "W":
                x, y = ix0 + depth_back + 0.01, rng.uniform(iy0, iy1)
            else:
                x, y = ix1 - depth_back - 0.01, rng.uniform(iy0, iy1)
            lo, hi = self._aabb_of(groups, x, y, yaw)
            top = max(p["c"][2] + p["h"][2] for _, P in groups for p in P)
            ax = 0 if side in "NS" else 1
            blocked = any(
                sd == side and hi[ax] > a0 - 0.05 and lo[ax] < a1 + 0.05 and top > z0 - 0.05
                for sd, a0, a1, z0 in room.get("wall_items", [])
            )
            if not blocked and self._free(lo, hi, room, occ):
                occ.append((lo, hi))
                return x, y, yaw
        return None

    def _place_free(self, room, groups, occ, yaw=None, center=False, tries=40, check=True):
        ix0, iy0, ix1, iy1 = self._inner(room)
        rng = self.rng
        for _ in range(tries):
            yw = rng.uniform(-np.pi, np.pi) if yaw is None else yaw
            if center:
                x = rng.normal((ix0 + ix1) / 2, 0.25)
                y = rng.normal((iy0 + iy1) / 2, 0.25)
            else:
                x, y = rng.uniform(ix0, ix1), rng.uniform(iy0, iy1)
            lo, hi = self._aabb_of(groups, x, y, yw)
            if not check or self._free(lo, hi, room, occ):
                if check:
                    occ.append((lo, hi))
                return x, y, yw
        return None

    def _put_on(self, room, tops, parent, groups):
        if not tops:
            return None
        z, hx, hy = tops[0]
        px, py, pyaw = parent
        lo, hi = self._aabb_of(groups, 0, 0, 0)
        ex, ey = (hi - lo) / 2
        if ex > hx or ey > hy:
            return None
        lx, ly = self.rng.uniform(-hx + ex, hx - ex), self.rng.uniform(-hy + ey, hy - ey)
        x, y = rot2(pyaw) @ (lx, ly) + (px, py)
        return x, y, z, pyaw + self.rng.normal(0, 0.2)

    def _wall_item(self, room, cls, exterior_only=False):
        """window / picture: thin box mounted on a wall."""
        rng = self.rng
        for _ in range(20):
            side = "NSEW"[rng.integers(4)]
            w = room["walls"][side]
            if exterior_only and not w["exterior"]:
                continue
            if cls == "window":
                W, z0, z1 = rng.uniform(0.8, 1.6), rng.uniform(0.8, 1.0), rng.uniform(1.9, 2.2)
            else:
                W = rng.uniform(0.4, 1.0)
                hh = rng.uniform(0.3, 0.7)
                zc = rng.uniform(1.4, 1.7)
                z0, z1 = zc - hh / 2, zc + hh / 2
            if w["a1"] - w["a0"] < W + 0.4:
                continue
            a = rng.uniform(w["a0"] + W / 2 + 0.2, w["a1"] - W / 2 - 0.2)
            if any(a + W / 2 > u0 - 0.15 and a - W / 2 < u1 + 0.15 for u0, u1 in w["used"]):
                continue
            w["used"].append((a - W / 2, a + W / 2))
            room["wall_items"].append((side, a - W / 2, a + W / 2, z0))
            inward = dict(N=-1, S=1, E=-1, W=1)[side]
            face = w["fixed"] + inward * WALL_T / 2  # inner wall surface
            th = 0.03
            P = []
            if cls == "window":
                sky = jitter(rng, (0.75, 0.85, 0.95), 0.04)
                fr = np.array((0.95, 0.95, 0.95))
                P.append(((a, (z0 + z1) / 2, 0.005), (W / 2, (z1 - z0) / 2, 0.006), M_EMIT, sky))
                for aa, zz, ha, hz in [
                    (a, z0, W / 2, 0.03),
                    (a, z1, W / 2, 0.03),
                    (a - W / 2, (z0 + z1) / 2, 0.03, (z1 - z0) / 2),
                    (a + W / 2, (z0 + z1) / 2, 0.03, (z1 - z0) / 2),
                    (a, (z0 + z1) / 2, 0.015, (z1 - z0) / 2),
                ]:
                    P.append(((aa, zz, 0.025), (ha, hz, 0.025), M_PLAIN, fr))
            else:
                fc = pick(rng, WOODS + METAL)
                P.append(((a, (z0 + z1) / 2, th / 2), (W / 2, (z1 - z0) / 2, th / 2), M_PLAIN, fc))
                P.append(
                    (
                        (a, (z0 + z1) / 2, th + 0.001),
                        (W / 2 - 0.04, (z1 - z0) / 2 - 0.04, 0.002),
                        M_PAINT,
                        pick(rng, FABRICS),
                        pick(rng, WALLS),
                    )
                )
            parts = []
            for (aa, zz, off), (ha, hz, ho), mat, col, *c2 in P:
                if side in "NS":
                    c, h = (aa, face + inward * off, zz), (ha, ho, hz)
                else:
                    c, h = (face + inward * off, aa, zz), (ho, ha, hz)
                parts.append(part(BOX, c, h, mat, col, c2[0] if c2 else None))
            self.add_groups([(cls, parts)], 0, 0, 0, 0, room["id"], parent=w["inst"])
            return True
        return False

    def _furnish(self, room):
        rng, rid = self.rng, room["id"]
        occ = self._door_keepout(room)

        def T(name, *a):
            return TEMPLATES[name](rng, *a)

        def wall_obj(name, *a, n_on=()):
            g, tops = T(name, *a)
            pose = self._place_wall(room, g, occ)
            if pose is None:
                return None
            ids = self.add_groups(g, pose[0], pose[1], 0, pose[2], rid)
            for on in n_on:
                if rng.random() < 0.75:
                    g2, _ = on()
                    p2 = self._put_on(room, tops, pose, g2)
                    if p2:
                        self.add_groups(g2, p2[0], p2[1], p2[2], p2[3], rid, parent=ids[0])
            return pose

        typ = room["type"]
        room["wall_items"] = []
        self._wall_item(room, "window", exterior_only=True)
        for _ in range(int(rng.integers(0, 3))):
            self._wall_item(room, "picture")
        if rng.random() < 0.6:  # rug first (no occupancy)
            g, _ = T("rug")
            p = self._place_free(room, g, occ, yaw=rng.choice([0, np.pi / 2]), center=True, check=False)
            self.add_groups(g, p[0], p[1], 0, p[2], rid)

        def lamp_s():
            return t_lamp(rng, table=True)

        def box_s():
            return t_box(rng)

        if typ == "bedroom":
            wall_obj("bed")
            for _ in range(int(rng.integers(1, 3))):
                wall_obj("cabinet", None, None, n_on=(lamp_s,))
        elif typ == "living":
            wall_obj("sofa")
            wall_obj("cabinet", rng.uniform(1.0, 1.6), rng.uniform(0.45, 0.6), n_on=(lambda: t_tv(rng),))
            g, tops = T("table", True)
            p = self._place_free(room, g, occ, yaw=rng.choice([0, np.pi / 2]), center=True)
            if p:
                self.add_groups(g, p[0], p[1], 0, p[2], rid)
        elif typ == "office":
            pose = wall_obj("table", n_on=(lambda: t_tv(rng, True), lamp_s))
            if pose:
                g, _ = T("chair")
                x, y = rot2(pose[2]) @ (rng.uniform(-0.2, 0.2), 0.65) + pose[:2]
                lo, hi = self._aabb_of(g, x, y, pose[2] + np.pi)
                if self._free(lo, hi, room, occ):
                    occ.append((lo, hi))
                    self.add_groups(g, x, y, 0, pose[2] + np.pi + rng.normal(0, 0.3), rid)
            wall_obj("cabinet", n_on=(box_s,))
        else:  # dining: table + chairs
            g, tops = T("table")
            p = self._place_free(room, g, occ, yaw=rng.choice([0, np.pi / 2]), center=True)
            if p:
                tid = self.add_groups(g, p[0], p[1], 0, p[2], rid)[0]
                hx, hy = tops[0][1], tops[0][2]
                seats = [(0, hy + 0.3, np.pi), (0, -hy - 0.3, 0), (hx + 0.3, 0, np.pi / 2), (-hx - 0.3, 0, -np.pi / 2)]
                if hx > 0.7:
                    seats += [(hx / 2, hy + 0.3, np.pi), (-hx / 2, -hy - 0.3, 0)]
                for sx, sy, syaw in seats:
                    if rng.random() < 0.25:
                        continue
                    gc, _ = T("chair")
                    x, y = rot2(p[2]) @ (sx, sy) + p[:2]
                    lo, hi = self._aabb_of(gc, x, y, p[2] + syaw)
                    if self._free(lo, hi, room, occ, margin=-0.05):
                        occ.append((lo, hi))
                        self.add_groups(gc, x, y, 0, p[2] + syaw + rng.normal(0, 0.15), rid)
                if rng.random() < 0.6:
                    g2, _ = t_box(rng)
                    p2 = self._put_on(room, tops, p, g2)
                    if p2:
                        self.add_groups(g2, p2[0], p2[1], p2[2], p2[3], rid, parent=tid)
            wall_obj("cabinet", n_on=(box_s,))
        for _ in range(int(rng.integers(1, 3))):
            wall_obj("shelf")
        if rng.random() < 0.7:
            wall_obj("lamp")
        for _ in range(int(rng.integers(0, 3))):
            wall_obj("plant")
        for _ in range(int(rng.integers(0, 3))):
            g, _ = T("box")
            p = self._place_free(room, g, occ)
            if p:
                self.add_groups(g, p[0], p[1], 0, p[2], rid)
        if rng.random() < 0.5:
            wall_obj("chair")
        room["occ"] = occ

    # --- flatten parts into arrays used by every backend
    def arrays(self):
        P = self.parts
        A = dict(
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
        return A

    def ground_truth(self, seed: int) -> dict:
        """The scene's ground truth as plain JSON-able data (see the module docstring)."""
        return {
            "seed": int(seed),
            "extent_m": [round(float(v), 4) for v in self.extent],
            "height_m": round(float(self.H), 4),
            "rooms": [{"id": int(r["id"]), "type": r["type"],
                       "polygon": [[round(float(x), 4), round(float(y), 4)] for x, y in
                                   ((r["rect"][0], r["rect"][1]), (r["rect"][2], r["rect"][1]),
                                    (r["rect"][2], r["rect"][3]), (r["rect"][0], r["rect"][3]))]}
                      for r in self.rooms],
            "doors": [{"rooms": [int(a) for a in d["rooms"]], "instance": d.get("inst"),
                       "position": [round(float(v), 4) for v in
                                    ((d["s"], d["pos"]) if d["axis"] == "x" else (d["pos"], d["s"]))]}
                      for d in self.doors],
            "objects": self.object_list(),
        }  # fmt: skip

    # --- ground truth object list for scene-graph evaluation
    def object_list(self):
        A = self.arrays()
        lo, hi = part_aabbs(A)
        out = []
        for o in self.objects:
            m = A["inst"] == o["inst"]
            if not m.any():
                continue
            box_lo, box_hi = lo[m].min(0), hi[m].max(0)
            vol = np.prod(2 * A["half"][m], axis=1)
            vol = np.where(A["type"][m] == BOX, vol, vol * np.pi / 4)
            cen_vol = (A["center"][m] * vol[:, None]).sum(0) / vol.sum()
            out.append(
                dict(
                    inst=o["inst"],
                    cls=o["cls"],
                    cls_id=o["cls_id"],
                    room=o["room"],
                    parent=o["parent"],
                    yaw=round(o["yaw"], 4),
                    connects=o.get("connects"),
                    centroid=((box_lo + box_hi) / 2).round(4).tolist(),
                    centroid_vol=cen_vol.round(4).tolist(),
                    aabb_min=box_lo.round(4).tolist(),
                    aabb_max=box_hi.round(4).tolist(),
                )
            )
        return out
