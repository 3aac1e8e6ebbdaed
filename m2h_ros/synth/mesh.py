"""Triangle meshes of the analytic parts, for ray casting (boxes exact, cylinders as 24-gons,
spheres as 16×10 facets; normals come from the analytic parts, not from these facets)."""

from __future__ import annotations

import numpy as np

from m2h_ros.synth.parts import BOX, CYL, SPH

_BV = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], float)
_BF = np.array(
    [
        [0, 1, 3],
        [0, 3, 2],
        [4, 6, 7],
        [4, 7, 5],
        [0, 4, 5],
        [0, 5, 1],
        [2, 3, 7],
        [2, 7, 6],
        [0, 2, 6],
        [0, 6, 4],
        [1, 5, 7],
        [1, 7, 3],
    ]
)


def _fix_winding(V, F, c):
    """orient triangles outward (normal points away from part centre)."""
    n = np.cross(V[F[:, 1]] - V[F[:, 0]], V[F[:, 2]] - V[F[:, 0]])
    out = V[F].mean(1) - c
    flip = (n * out).sum(1) < 0
    F = F.copy()
    F[flip] = F[flip][:, [0, 2, 1]]
    return F


def unit_cylinder(n=24):
    a = np.linspace(0, 2 * np.pi, n, endpoint=False)
    ring = np.stack([np.cos(a), np.sin(a)], 1)
    V = np.r_[np.c_[ring, -np.ones(n)], np.c_[ring, np.ones(n)], [[0, 0, -1], [0, 0, 1]]]
    F = []
    for i in range(n):
        j = (i + 1) % n
        F += [[i, j, n + j], [i, n + j, n + i], [2 * n, j, i], [2 * n + 1, n + i, n + j]]
    return V, np.array(F)


def unit_sphere(nu=16, nv=10):
    V = [[0, 0, -1]]
    for k in range(1, nv):
        th = np.pi * k / nv - np.pi / 2
        for i in range(nu):
            ph = 2 * np.pi * i / nu
            V.append([np.cos(th) * np.cos(ph), np.cos(th) * np.sin(ph), np.sin(th)])
    V.append([0, 0, 1])
    V = np.array(V)
    F, top = [], len(V) - 1
    for i in range(nu):
        F.append([0, 1 + (i + 1) % nu, 1 + i])
    for k in range(nv - 2):
        b0, b1 = 1 + k * nu, 1 + (k + 1) * nu
        for i in range(nu):
            j = (i + 1) % nu
            F += [[b0 + i, b0 + j, b1 + j], [b0 + i, b1 + j, b1 + i]]
    b = 1 + (nv - 2) * nu
    for i in range(nu):
        F.append([top, b + i, b + (i + 1) % nu])
    return V, np.array(F)


_UNIT = {BOX: (_BV, _BF), CYL: unit_cylinder(), SPH: unit_sphere()}


def part_mesh(t, c, h, yaw):
    V, F = _UNIT[int(t)]
    cs, sn = np.cos(yaw), np.sin(yaw)
    R = np.array([[cs, -sn, 0], [sn, cs, 0], [0, 0, 1]])
    Vw = (V * h) @ R.T + c
    return Vw, _fix_winding(Vw, F, c)


def scene_meshes(A, group=None):
    """list of (V,F,part_index_per_triangle); group=None -> one mesh per part,
    group='inst' -> one mesh per object instance, group='all' -> single mesh."""
    out = []
    parts = [part_mesh(A["type"][i], A["center"][i], A["half"][i], A["yaw"][i]) for i in range(len(A["type"]))]
    if group is None:
        return [(V, F, np.full(len(F), i)) for i, (V, F) in enumerate(parts)]
    keys = A["inst"] if group == "inst" else np.zeros(len(parts), int)
    for k in np.unique(keys):
        idx = np.nonzero(keys == k)[0]
        Vs, Fs, Ps, off = [], [], [], 0
        for i in idx:
            V, F = parts[i]
            Vs.append(V)
            Fs.append(F + off)
            Ps.append(np.full(len(F), i))
            off += len(V)
        out.append((np.concatenate(Vs), np.concatenate(Fs), np.concatenate(Ps)))
    return out
