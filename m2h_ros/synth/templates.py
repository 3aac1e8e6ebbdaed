"""Furniture templates built from primitives.

A template returns ``(groups, tops)``. ``groups`` is a list of ``(class name, parts)`` in the object's
local frame (origin at the centre of its footprint on the supporting surface, front facing +y);
``groups[0]`` is the object itself, later groups are separate instances it supports (pillows on a
bed, books on a shelf). ``tops`` lists the surfaces others can stand on, as ``(z, half_x, half_y)``.
"""

from __future__ import annotations

import numpy as np

from m2h_ros.synth.parts import (
    BOX,
    CYL,
    FABRICS,
    M_CARPET,
    M_EMIT,
    M_FABRIC,
    M_PLAIN,
    M_SCREEN,
    M_WOOD,
    METAL,
    SPH,
    WALLS,
    WOODS,
    jitter,
    part,
    pick,
)  # fmt: skip


def t_table(rng, low=False):
    H = rng.uniform(0.40, 0.48) if low else rng.uniform(0.70, 0.78)
    wood, c = rng.random() < 0.7, pick(rng, WOODS)
    mat = M_WOOD if wood else M_PLAIN
    if not wood:
        c = pick(rng, [*METAL, (0.9, 0.9, 0.88)])
    if rng.random() < 0.25 and not low:  # round table
        r = rng.uniform(0.4, 0.6)
        P = [
            part(CYL, (0, 0, H - 0.02), (r, r, 0.02), mat, c),
            part(CYL, (0, 0, (H - 0.04) / 2), (0.05, 0.05, (H - 0.04) / 2), M_PLAIN, pick(rng, METAL)),
            part(CYL, (0, 0, 0.015), (0.25, 0.25, 0.015), M_PLAIN, pick(rng, METAL)),
        ]
        return [("table", P)], [(H, r * 0.7, r * 0.7)]
    W, D = rng.uniform(0.8, 1.8), rng.uniform(0.6, 1.0)
    P = [part(BOX, (0, 0, H - 0.02), (W / 2, D / 2, 0.02), mat, c)]
    lc = c if rng.random() < 0.5 else pick(rng, METAL)
    for sx in (-1, 1):
        for sy in (-1, 1):
            P.append(
                part(
                    BOX,
                    (sx * (W / 2 - 0.06), sy * (D / 2 - 0.06), (H - 0.04) / 2),
                    (0.025, 0.025, (H - 0.04) / 2),
                    mat if lc is c else M_PLAIN,
                    lc,
                )
            )
    return [("table", P)], [(H, W / 2, D / 2)]


def t_chair(rng):
    S, Hs = rng.uniform(0.40, 0.50), rng.uniform(0.42, 0.48)
    c = pick(rng, WOODS)
    seatc = c if rng.random() < 0.5 else pick(rng, FABRICS)
    smat = M_WOOD if seatc is c else M_FABRIC
    P = [part(BOX, (0, 0, Hs - 0.025), (S / 2, S / 2, 0.025), smat, seatc)]
    for sx in (-1, 1):
        for sy in (-1, 1):
            P.append(
                part(
                    BOX,
                    (sx * (S / 2 - 0.03), sy * (S / 2 - 0.03), (Hs - 0.05) / 2),
                    (0.018, 0.018, (Hs - 0.05) / 2),
                    M_WOOD,
                    c,
                )
            )
    bh = rng.uniform(0.35, 0.5)
    P.append(part(BOX, (0, -S / 2 + 0.02, Hs + bh / 2), (S / 2, 0.02, bh / 2), smat, seatc))
    return [("chair", P)], []


def t_bed(rng):
    W, L = rng.choice([0.95, 1.4, 1.6, 1.8]), rng.uniform(1.95, 2.1)
    fc, sc = pick(rng, WOODS), jitter(rng, (0.88, 0.88, 0.85), 0.05)
    P = [
        part(BOX, (0, 0, 0.17), (W / 2, L / 2, 0.15), M_WOOD, fc),
        part(BOX, (0, 0.03, 0.42), (W / 2 - 0.02, L / 2 - 0.05, 0.10), M_FABRIC, sc),
        part(BOX, (0, -L / 2 + 0.04, 0.55), (W / 2 + 0.03, 0.04, 0.55), M_WOOD, fc),
    ]
    for sx in (-1, 1):
        for sy in (-1, 1):
            P.append(part(BOX, (sx * (W / 2 - 0.04), sy * (L / 2 - 0.04), 0.01), (0.03, 0.03, 0.01), M_WOOD, fc))
    groups = [("bed", P)]
    npil = 1 if W < 1.2 else 2
    pc = pick(rng, [*FABRICS, (0.9, 0.9, 0.9)])
    for i in range(npil):
        x = 0 if npil == 1 else (i - 0.5) * W / 2
        groups.append(
            ("pillow", [part(BOX, (x, -L / 2 + 0.25, 0.57), (min(0.32, W / 2 - 0.1), 0.18, 0.06), M_FABRIC, pc)])
        )
    # the blanket is part of the bed, in another colour
    P.append(part(BOX, (0, 0.25, 0.525), (W / 2, L / 2 - 0.3, 0.012), M_FABRIC, pick(rng, FABRICS)))
    return groups, []


def t_shelf(rng):
    W, D, H = rng.uniform(0.6, 1.2), rng.uniform(0.28, 0.4), rng.uniform(1.2, 2.0)
    c = pick(rng, WOODS) if rng.random() < 0.7 else np.array((0.9, 0.9, 0.88))
    mat = M_WOOD if rng.random() < 0.7 else M_PLAIN
    t = 0.02
    P = [part(BOX, (sx * (W / 2 - t / 2), 0, H / 2), (t / 2, D / 2, H / 2), mat, c) for sx in (-1, 1)]
    P.append(part(BOX, (0, -D / 2 + 0.005, H / 2), (W / 2, 0.005, H / 2), mat, c * 0.9))
    n = int(rng.integers(3, 6))
    zs = np.linspace(0.05, H - t / 2, n + 1)
    for z in zs:
        P.append(part(BOX, (0, 0, z), (W / 2 - t, D / 2, t / 2), mat, c))
    groups = [("shelf", P)]
    for k in range(n):  # a row of books on each board
        if rng.random() < 0.3:
            continue
        gap = zs[k + 1] - zs[k] - t
        x = -W / 2 + t + 0.01
        xend = x + rng.uniform(0.3, 0.9) * (W - 2 * t - 0.02)
        B = []
        while x < xend:
            bw = rng.uniform(0.02, 0.05)
            bh = min(gap - 0.02, rng.uniform(0.15, 0.28))
            bd = min(D - 0.03, rng.uniform(0.15, 0.22))
            B.append(
                part(
                    BOX,
                    (x + bw / 2, -D / 2 + 0.01 + bd / 2, zs[k] + t / 2 + bh / 2),
                    (bw / 2 - 0.002, bd / 2, bh / 2),
                    M_PLAIN,
                    pick(rng, FABRICS) * rng.uniform(0.7, 1.2),
                )
            )
            x += bw
        if B:
            groups.append(("books", B))
    return groups, []


def t_sofa(rng):
    W, D = rng.uniform(1.6, 2.4), rng.uniform(0.8, 1.0)
    c = pick(rng, FABRICS)
    P = [
        part(BOX, (0, 0.05, 0.2), (W / 2 - 0.15, D / 2 - 0.05, 0.15), M_FABRIC, c),
        part(BOX, (0, -D / 2 + 0.1, 0.45), (W / 2, 0.1, 0.40), M_FABRIC, c),
    ]
    for sx in (-1, 1):
        P.append(part(BOX, (sx * (W / 2 - 0.075), 0, 0.3), (0.075, D / 2, 0.3), M_FABRIC, c))
    nc = 2 if W < 2.0 else 3
    cw = (W - 0.3) / nc
    for i in range(nc):
        P.append(
            part(
                BOX,
                (-W / 2 + 0.15 + cw * (i + 0.5), 0.1, 0.41),
                (cw / 2 - 0.01, D / 2 - 0.12, 0.06),
                M_FABRIC,
                jitter(rng, c, 0.03),
            )
        )
    groups = [("sofa", P)]
    for i in range(int(rng.integers(0, 3))):
        x = (-1 if i == 0 else 1) * (W / 2 - 0.35)
        groups.append(
            ("pillow", [part(BOX, (x, -D / 2 + 0.28, 0.62), (0.2, 0.07, 0.17), M_FABRIC, pick(rng, FABRICS))])
        )
    return groups, []


def t_lamp(rng, table=False):
    s = 0.4 if table else 1.0
    mc, sc = pick(rng, METAL), jitter(rng, (0.95, 0.9, 0.75), 0.04)
    ph = (1.45 if not table else 0.45) * rng.uniform(0.9, 1.1)
    sr = 0.2 * (0.75 if table else 1) * rng.uniform(0.8, 1.2)
    P = [
        part(CYL, (0, 0, 0.015), (0.15 * s + 0.03, 0.15 * s + 0.03, 0.015), M_PLAIN, mc),
        part(CYL, (0, 0, ph / 2), (0.015, 0.015, ph / 2), M_PLAIN, mc),
        part(CYL, (0, 0, ph + 0.12 * s), (sr, sr, 0.16 * s + 0.02), M_EMIT, sc),
    ]
    return [("lamp", P)], []


def t_cabinet(rng, W=None, H=None):
    W = W or rng.uniform(0.5, 1.4)
    D, H = rng.uniform(0.4, 0.55), H or rng.uniform(0.5, 1.0)
    c = pick(rng, WOODS) if rng.random() < 0.6 else pick(rng, WALLS)
    mat = M_WOOD if rng.random() < 0.6 else M_PLAIN
    P = [
        part(BOX, (0, 0, H / 2 + 0.03), (W / 2, D / 2, H / 2 - 0.03), mat, c),
        part(BOX, (0, 0, 0.015), (W / 2 - 0.03, D / 2 - 0.03, 0.015), M_PLAIN, (0.1, 0.1, 0.1)),
    ]
    nd = int(rng.integers(1, 4))
    dh = (H - 0.08) / nd
    kc = pick(rng, METAL)
    for i in range(nd):
        zc = 0.06 + dh * (i + 0.5)
        P.append(part(BOX, (0, D / 2 + 0.008, zc), (W / 2 - 0.02, 0.008, dh / 2 - 0.01), mat, jitter(rng, c, 0.03)))
        P.append(part(BOX, (0, D / 2 + 0.025, zc), (0.06, 0.01, 0.01), M_PLAIN, kc))
    return [("cabinet", P)], [(H, W / 2 - 0.05, D / 2 - 0.05)]


def t_tv(rng, monitor=False):
    W = rng.uniform(0.45, 0.65) if monitor else rng.uniform(0.8, 1.3)
    Hs = W * 0.58
    mc = pick(rng, METAL[:2])
    P = [
        part(BOX, (0, 0, 0.01), (0.12 if monitor else 0.22, 0.09, 0.01), M_PLAIN, mc),
        part(BOX, (0, -0.01, 0.06), (0.025, 0.015, 0.05), M_PLAIN, mc),
        part(BOX, (0, 0, 0.10 + Hs / 2), (W / 2, 0.025, Hs / 2), M_PLAIN, mc),
        part(BOX, (0, 0.027, 0.10 + Hs / 2), (W / 2 - 0.015, 0.002, Hs / 2 - 0.015), M_SCREEN, (0.03, 0.03, 0.04)),
    ]
    return [("tv", P)], []


def t_plant(rng):
    r, h = rng.uniform(0.10, 0.2), rng.uniform(0.2, 0.4)
    pc = pick(rng, [(0.6, 0.3, 0.2), (0.9, 0.9, 0.88), (0.2, 0.2, 0.22), (0.5, 0.5, 0.45)])
    P = [part(CYL, (0, 0, h / 2), (r, r, h / 2), M_PLAIN, pc)]
    g = np.array((0.18, 0.42, 0.15))
    for _k in range(int(rng.integers(2, 5))):
        fr = rng.uniform(0.15, 0.3)
        off = rng.normal(0, 0.08, 2)
        P.append(
            part(SPH, (off[0], off[1], h + fr * rng.uniform(0.6, 1.6)), (fr, fr, fr), M_FABRIC, jitter(rng, g, 0.07))
        )
    return [("plant", P)], []


def t_box(rng):
    s = rng.uniform(0.15, 0.5, 3)
    c = pick(rng, [(0.65, 0.5, 0.32), (0.72, 0.58, 0.38), (0.85, 0.85, 0.85), (0.3, 0.4, 0.6)])
    return [("box", [part(BOX, (0, 0, s[2] / 2), s / 2, M_PLAIN, c)])], [(s[2], s[0] / 2, s[1] / 2)]


def t_rug(rng):
    W, D = rng.uniform(1.2, 2.4), rng.uniform(0.8, 1.7)
    c1, c2 = pick(rng, FABRICS), pick(rng, FABRICS)
    return [("rug", [part(BOX, (0, 0, 0.006), (W / 2, D / 2, 0.006), M_CARPET, c1, c2)])], []


TEMPLATES = {
    "table": t_table,
    "chair": t_chair,
    "bed": t_bed,
    "shelf": t_shelf,
    "sofa": t_sofa,
    "lamp": t_lamp,
    "cabinet": t_cabinet,
    "tv": t_tv,
    "plant": t_plant,
    "box": t_box,
    "rug": t_rug,
}
