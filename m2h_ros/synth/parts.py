"""The part table: every scene is a flat list of analytic parts (yaw-rotated boxes, vertical
cylinders, spheres), each belonging to an object instance with a class, a material and colours.
The same table drives the meshes for ray casting, the analytic normals and the ground truth."""

from __future__ import annotations

import numpy as np

from m2h_ros.labels import SYNTHETIC

BOX, CYL, SPH = 0, 1, 2
# Materials: procedural textures evaluated in the renderer's shading kernel.
(M_PLAIN, M_WOOD, M_TILE, M_STRIPE, M_FABRIC, M_SCREEN, M_EMIT, M_PLASTER, M_PAINT, M_CARPET, M_PLANK) = range(11)

CLASS_ID = {name: i for i, name in enumerate(SYNTHETIC.names)}  # the synthetic label space's ids

WOODS = [(0.55, 0.36, 0.20), (0.70, 0.52, 0.33), (0.38, 0.24, 0.14), (0.80, 0.66, 0.48), (0.30, 0.18, 0.10)]
FABRICS = [(0.25, 0.35, 0.55), (0.55, 0.25, 0.22), (0.35, 0.45, 0.30), (0.6, 0.58, 0.52),
           (0.2, 0.2, 0.22), (0.75, 0.65, 0.45), (0.45, 0.3, 0.5)]  # fmt: skip
WALLS = [(0.85, 0.83, 0.78), (0.80, 0.85, 0.88), (0.88, 0.82, 0.72), (0.75, 0.80, 0.72), (0.9, 0.9, 0.9)]
METAL = [(0.6, 0.6, 0.62), (0.15, 0.15, 0.15), (0.85, 0.85, 0.85)]


def rot2(yaw: float) -> np.ndarray:
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, -s], [s, c]])


def part(kind: int, center, half, mat: int, col, col2=None, yaw: float = 0.0) -> dict:
    """One primitive: ``center`` and ``half`` extents in metres, ``yaw`` about z."""
    col = np.asarray(col, float)
    return {"t": kind, "c": np.asarray(center, float), "h": np.asarray(half, float), "yaw": float(yaw), "mat": mat,
            "col": col, "col2": np.asarray(col2 if col2 is not None else col * 0.6, float)}  # fmt: skip


def jitter(rng: np.random.Generator, col, s: float = 0.06) -> np.ndarray:
    return np.clip(np.asarray(col) + rng.normal(0, s, 3), 0.02, 0.98)


def pick(rng: np.random.Generator, options) -> np.ndarray:
    return np.array(options[rng.integers(len(options))], float)


def part_aabbs(A: dict) -> tuple[np.ndarray, np.ndarray]:
    """World axis-aligned boxes (lo, hi), each (P, 3), of every part of the arrays ``A``."""
    c, h, yaw, t = A["center"], A["half"], A["yaw"], A["type"]
    cs, sn = np.abs(np.cos(yaw)), np.abs(np.sin(yaw))
    ex = np.where(t == BOX, cs * h[:, 0] + sn * h[:, 1], h[:, 0])
    ey = np.where(t == BOX, sn * h[:, 0] + cs * h[:, 1], h[:, 1])
    e = np.stack([ex, ey, h[:, 2]], 1)
    return c - e, c + e
