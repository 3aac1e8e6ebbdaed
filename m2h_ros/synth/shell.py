"""The shell of each room: floor and ceiling slabs, walls with door openings and lintels, a ceiling
light, door leaves, and the windows and pictures mounted on the walls."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from m2h_ros.synth.floorplan import DOOR_H, WALL_T, Door, Room, Wall
from m2h_ros.synth.parts import (
    BOX,
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
    pick,
)  # fmt: skip

if TYPE_CHECKING:
    from m2h_ros.synth.scene import Scene

INWARD = {"N": -1, "S": 1, "E": -1, "W": 1}  # the direction into the room across each side's wall


def build_room(scene: Scene, room: Room) -> None:
    """Floor, ceiling, the four walls (around the door openings, with lintels) and the ceiling light."""
    rng, H, t = scene.rng, scene.height, WALL_T
    x0, y0, x1, y1 = room.rect
    wc = pick(rng, WALLS)
    wmat = M_STRIPE if rng.random() < 0.3 else M_PLASTER
    wc2 = jitter(rng, wc, 0.08)
    fmat = [M_PLANK, M_TILE, M_CARPET][rng.integers(3)]
    fc = pick(rng, WOODS) if fmat == M_PLANK else (pick(rng, WALLS) * 0.8 if fmat == M_TILE else pick(rng, FABRICS))
    centre, half = ((x0 + x1) / 2, (y0 + y1) / 2), ((x1 - x0) / 2, (y1 - y0) / 2)
    scene.add([("floor", [part(BOX, (*centre, -0.05), (*half, 0.05), fmat, fc, fc * 0.7)])], room.id)
    scene.add([("ceiling", [part(BOX, (*centre, H + 0.05), (*half, 0.05), M_PLASTER, (0.92, 0.92, 0.9))])], room.id)
    W, D = scene.extent
    for side in "NSEW":
        if side in "NS":
            a0, a1 = x0, x1
            fixed = (y1 - t / 2) if side == "N" else (y0 + t / 2)
        else:
            a0, a1 = y0 + t, y1 - t
            fixed = (x1 - t / 2) if side == "E" else (x0 + t / 2)
        openings = scene.plan.openings(room, side)
        spans, cur = [], a0
        for o0, o1 in openings:
            spans.append((cur, o0, 0.0, H))
            cur = o1
        spans.append((cur, a1, 0.0, H))
        boxes = [b for b in spans if b[1] - b[0] > 1e-3] + [(o0, o1, DOOR_H, H) for o0, o1 in openings]  # lintels
        parts = [part(BOX, *_on_wall(side, fixed, (s0 + s1) / 2, (z0 + z1) / 2, (s1 - s0) / 2, t / 2, (z1 - z0) / 2),
                      wmat, wc, wc2) for s0, s1, z0, z1 in boxes]  # fmt: skip
        inst = scene.add([("wall", parts)], room.id)[0]
        exterior = ((side == "W" and x0 == 0) or (side == "S" and y0 == 0) or (side == "E" and abs(x1 - W) < 1e-9)
                    or (side == "N" and abs(y1 - D) < 1e-9))  # fmt: skip
        room.walls[side] = Wall(inst, fixed, a0, a1, exterior, list(openings))
    pos = np.array([(x0 + x1) / 2 + rng.uniform(-0.3, 0.3), (y0 + y1) / 2 + rng.uniform(-0.3, 0.3), H - 0.25])
    scene.add_light(room.id, pos, rng.uniform(4.0, 7.0), jitter(rng, (1.0, 0.95, 0.85), 0.03))


def _on_wall(side: str, fixed: float, along: float, z: float, half_along: float, half_across: float,
             half_z: float) -> tuple[tuple, tuple]:  # fmt: skip
    """(centre, half extents) of a box on wall ``side`` from coordinates along and across the wall."""
    if side in "NS":
        return (along, fixed, z), (half_along, half_across, half_z)
    return (fixed, along, z), (half_across, half_along, half_z)


def door_leaf(scene: Scene, door: Door) -> None:
    """A door leaf in three of four doorways, swung open 85–100° into one of its two rooms."""
    rng = scene.rng
    if rng.random() > 0.75:
        door.inst = None
        return
    a, b = door.rooms
    into = rng.integers(2)  # 0: opens into room a (the low side of the split line), 1: into b
    hinge_lo = rng.random() < 0.5
    w = door.width - 0.02
    th = np.deg2rad(rng.uniform(85, 100))
    sgn_room = -1 if into == 0 else 1
    along = 1 if hinge_lo else -1
    if door.axis == "x":  # the closed direction along the wall, rotated by th towards the room
        hinge = np.array([door.s, door.pos - along * door.width / 2])
        v0, vn = np.array([0, along]), np.array([sgn_room, 0])
    else:
        hinge = np.array([door.pos - along * door.width / 2, door.s])
        v0, vn = np.array([along, 0]), np.array([0, sgn_room])
    v = np.cos(th) * v0 + np.sin(th) * vn
    c = hinge + v * (w / 2 + 0.01)
    yaw = np.arctan2(v[1], v[0])
    col = pick(rng, [*WOODS, (0.92, 0.92, 0.9)])
    P = [
        part(BOX, (0, 0, (DOOR_H - 0.01) / 2), (w / 2, 0.02, (DOOR_H - 0.01) / 2), M_WOOD, col),
        part(BOX, (w / 2 - 0.08, 0.04, 1.0), (0.05, 0.02, 0.01), M_PLAIN, pick(rng, METAL)),
        part(BOX, (w / 2 - 0.08, -0.04, 1.0), (0.05, 0.02, 0.01), M_PLAIN, pick(rng, METAL)),
    ]
    door.inst = scene.add([("door", P)], (a, b)[into], at=(c[0], c[1], 0, yaw))[0]
    scene.objects[-1].connects = [int(a), int(b)]


def wall_item(scene: Scene, room: Room, cls: str, exterior_only: bool = False) -> bool:
    """A window or picture mounted on a free span of one of the room's walls; False if none fits."""
    rng = scene.rng
    for _ in range(20):
        side = "NSEW"[rng.integers(4)]
        wall = room.walls[side]
        if exterior_only and not wall.exterior:
            continue
        if cls == "window":
            W, z0, z1 = rng.uniform(0.8, 1.6), rng.uniform(0.8, 1.0), rng.uniform(1.9, 2.2)
        else:
            W = rng.uniform(0.4, 1.0)
            hh = rng.uniform(0.3, 0.7)
            zc = rng.uniform(1.4, 1.7)
            z0, z1 = zc - hh / 2, zc + hh / 2
        if wall.a1 - wall.a0 < W + 0.4:
            continue
        a = rng.uniform(wall.a0 + W / 2 + 0.2, wall.a1 - W / 2 - 0.2)
        if any(a + W / 2 > u0 - 0.15 and a - W / 2 < u1 + 0.15 for u0, u1 in wall.used):
            continue
        wall.used.append((a - W / 2, a + W / 2))
        room.wall_items.append((side, a - W / 2, a + W / 2, z0))
        boxes = _window(rng, a, W, z0, z1) if cls == "window" else _picture(rng, a, W, z0, z1)
        face = wall.fixed + INWARD[side] * WALL_T / 2  # the inner wall surface
        parts = [part(BOX, *_on_wall(side, face + INWARD[side] * off, aa, zz, ha, ho, hz), mat, col, c2[0] if c2 else None)
                 for (aa, zz, off), (ha, hz, ho), mat, col, *c2 in boxes]  # fmt: skip
        scene.add([(cls, parts)], room.id, parent=wall.inst)
        return True
    return False


def _window(rng: np.random.Generator, a: float, W: float, z0: float, z1: float) -> list:
    """A glowing pane and its frame: ((along, z, off the wall), (half along, half z, half across), material, colour)."""
    sky = jitter(rng, (0.75, 0.85, 0.95), 0.04)
    frame = np.array((0.95, 0.95, 0.95))
    boxes = [((a, (z0 + z1) / 2, 0.005), (W / 2, (z1 - z0) / 2, 0.006), M_EMIT, sky)]
    for aa, zz, ha, hz in [(a, z0, W / 2, 0.03), (a, z1, W / 2, 0.03), (a - W / 2, (z0 + z1) / 2, 0.03, (z1 - z0) / 2),
                           (a + W / 2, (z0 + z1) / 2, 0.03, (z1 - z0) / 2), (a, (z0 + z1) / 2, 0.015, (z1 - z0) / 2)]:  # fmt: skip
        boxes.append(((aa, zz, 0.025), (ha, hz, 0.025), M_PLAIN, frame))
    return boxes


def _picture(rng: np.random.Generator, a: float, W: float, z0: float, z1: float) -> list:
    """A frame and its painted canvas, in the layout of :func:`_window`."""
    th = 0.03
    fc = pick(rng, WOODS + METAL)
    return [((a, (z0 + z1) / 2, th / 2), (W / 2, (z1 - z0) / 2, th / 2), M_PLAIN, fc),
            ((a, (z0 + z1) / 2, th + 0.001), (W / 2 - 0.04, (z1 - z0) / 2 - 0.04, 0.002), M_PAINT, pick(rng, FABRICS),
             pick(rng, WALLS))]  # fmt: skip
