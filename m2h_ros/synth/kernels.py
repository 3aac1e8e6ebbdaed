"""Numba kernels for the per-pixel work of the renderer: ground-truth maps from ray hits, soft
shadow rays, an edge-aware visibility filter, procedural textures and lighting, the camera model
(blur, exposure, tone curve, noise) and the edge flags. Ray casting itself is open3d's.

All kernels are compiled once and cached (``NUMBA_CACHE_DIR``); numba threads through OpenMP
(see ``m2h_ros/__init__.py``).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

F = {"fastmath": True, "cache": True}


# ------------------------------------------------------------------ GT maps
@njit(parallel=True, **F)
def gt_kernel(rays, t, part, typ, cen, half, cs, sn, cls, inst, R, depth, ncam, sem, ins, pw, nw, pl, nl):
    for i in prange(rays.shape[0]):
        k = part[i]
        if k < 0:
            depth[i] = 0.0
            sem[i] = 0
            ins[i] = 0
            continue
        dx, dy, dz = rays[i, 3], rays[i, 4], rays[i, 5]
        px, py, pz = rays[i, 0] + t[i] * dx, rays[i, 1] + t[i] * dy, rays[i, 2] + t[i] * dz
        qx, qy, qz = px - cen[k, 0], py - cen[k, 1], pz - cen[k, 2]
        lx = cs[k] * qx + sn[k] * qy
        ly = -sn[k] * qx + cs[k] * qy
        lz = qz
        hx, hy, hz = half[k, 0], half[k, 1], half[k, 2]
        if typ[k] == 0:
            ax, ay, az = abs(lx) / hx, abs(ly) / hy, abs(lz) / hz
            mx, my, mz = 0.0, 0.0, 0.0
            if ax >= ay and ax >= az:
                mx = 1.0 if lx > 0 else -1.0
            elif ay >= az:
                my = 1.0 if ly > 0 else -1.0
            else:
                mz = 1.0 if lz > 0 else -1.0
        elif typ[k] == 1:
            rr = np.sqrt(lx * lx + ly * ly)
            if abs(lz) / hz > rr / hx:
                mx, my, mz = 0.0, 0.0, (1.0 if lz > 0 else -1.0)
            else:
                mx, my, mz = lx / max(rr, 1e-9), ly / max(rr, 1e-9), 0.0
        else:
            rr = max(np.sqrt(lx * lx + ly * ly + lz * lz), 1e-9)
            mx, my, mz = lx / rr, ly / rr, lz / rr
        wx = cs[k] * mx - sn[k] * my
        wy = sn[k] * mx + cs[k] * my
        wz = mz
        if wx * dx + wy * dy + wz * dz > 0:  # face the camera
            wx, wy, wz, mx, my, mz = -wx, -wy, -wz, -mx, -my, -mz
        depth[i] = t[i]
        ncam[i, 0] = R[0, 0] * wx + R[1, 0] * wy + R[2, 0] * wz
        ncam[i, 1] = R[0, 1] * wx + R[1, 1] * wy + R[2, 1] * wz
        ncam[i, 2] = R[0, 2] * wx + R[1, 2] * wy + R[2, 2] * wz
        sem[i] = cls[k]
        ins[i] = inst[k]
        pw[i, 0], pw[i, 1], pw[i, 2] = px, py, pz
        nw[i, 0], nw[i, 1], nw[i, 2] = wx, wy, wz
        pl[i, 0], pl[i, 1], pl[i, 2] = lx, ly, lz
        nl[i, 0], nl[i, 1], nl[i, 2] = mx, my, mz


@njit(parallel=True, **F)
def shadow_rays(pw, nw, part, lights, radius, seed, out):
    """one jittered (disk area-light) shadow ray per light per hit pixel."""
    N = pw.shape[0]
    for i in prange(N):
        for li in range(lights.shape[0]):
            j = li * N + i
            if part[i] < 0:
                out[j, :] = 0.0
                out[j, 5] = 1.0
                continue
            h1 = _h(i, li, 7, seed)
            h2 = _h(i, li, 13, seed)
            r, a = radius * np.sqrt(h1), 2 * np.pi * h2
            ox, oy, oz = pw[i, 0] + 2e-3 * nw[i, 0], pw[i, 1] + 2e-3 * nw[i, 1], pw[i, 2] + 2e-3 * nw[i, 2]
            out[j, 0], out[j, 1], out[j, 2] = ox, oy, oz
            out[j, 3] = lights[li, 0] + r * np.cos(a) - ox
            out[j, 4] = lights[li, 1] + r * np.sin(a) - oy
            out[j, 5] = lights[li, 2] - oz


@njit(parallel=True, **F)
def _filter_pass(vis, ins, depth, H, W, rad, horiz, out):
    L = vis.shape[0]
    for y in prange(H):
        for x in range(W):
            i = y * W + x
            zi, ii = depth[i], ins[i]
            tol = 0.05 * zi + 0.02
            c = 0.0
            for li in range(L):
                out[li, i] = 0.0
            for o in range(-rad, rad + 1):
                xx = x + o * horiz
                yy = y + o * (1 - horiz)
                if xx < 0 or xx >= W or yy < 0 or yy >= H:
                    continue
                j = yy * W + xx
                if ins[j] == ii and abs(depth[j] - zi) < tol:
                    c += 1.0
                    for li in range(L):
                        out[li, i] += vis[li, j]
            for li in range(L):
                out[li, i] /= c


def filter_vis(vis, ins, depth, H, W, rad, out):
    """edge-aware (same instance, similar depth) separable box filter of the
    noisy 1-sample soft-shadow visibility."""
    tmp = np.empty_like(vis)
    _filter_pass(vis, ins, depth, H, W, rad, 1, tmp)
    _filter_pass(tmp, ins, depth, H, W, rad, 0, out)


@njit(parallel=True, **F)
def post_kernel(lin, H, W, expo, seed, noise, out):
    """3x3 blur (camera PSF) + exposure + tone curve + gamma + sensor noise."""
    for y in prange(H):
        for x in range(W):
            for c in range(3):
                acc = 0.0
                for dy in (-1, 0, 1):
                    yy = min(max(y + dy, 0), H - 1)
                    wy = 0.5 if dy == 0 else 0.25
                    for dx in (-1, 0, 1):
                        xx = min(max(x + dx, 0), W - 1)
                        wx = 0.5 if dx == 0 else 0.25
                        acc += wy * wx * lin[yy * W + xx, c]
                v = (1.0 - np.exp(-acc * expo)) ** (1 / 2.2)
                # approx. gaussian noise from 2 uniform hashes
                n = (_h(x, y, c, seed) + _h(x, y, c + 3, seed) - 1.0) * 2.45
                v += noise * n
                v = min(max(v, 0.0), 1.0)
                out[y, x, c] = np.uint8(v * 255 + 0.5)


# ------------------------------------------------------------------ textures
@njit(inline="always", **F)
def _h(ix, iy, iz, s):
    h = (ix * 73856093) ^ (iy * 19349663) ^ (iz * 83492791) ^ (s * 2654435761)
    h &= 0xFFFFFFFF
    h ^= h >> 13
    h = (h * 1274126177) & 0xFFFFFFFF
    h ^= h >> 16
    return (h & 0xFFFFFF) / 16777215.0


@njit(inline="always", **F)
def _vn(x, y, z, s):
    ix, iy, iz = np.floor(x), np.floor(y), np.floor(z)
    fx, fy, fz = x - ix, y - iy, z - iz
    fx, fy, fz = fx * fx * (3 - 2 * fx), fy * fy * (3 - 2 * fy), fz * fz * (3 - 2 * fz)
    i, j, k = np.int64(ix), np.int64(iy), np.int64(iz)
    a = _h(i, j, k, s) * (1 - fx) + _h(i + 1, j, k, s) * fx
    b = _h(i, j + 1, k, s) * (1 - fx) + _h(i + 1, j + 1, k, s) * fx
    c = _h(i, j, k + 1, s) * (1 - fx) + _h(i + 1, j, k + 1, s) * fx
    d = _h(i, j + 1, k + 1, s) * (1 - fx) + _h(i + 1, j + 1, k + 1, s) * fx
    return (a * (1 - fy) + b * fy) * (1 - fz) + (c * (1 - fy) + d * fy) * fz


@njit(inline="always", **F)
def _fbm(x, y, z, s, octv):
    a, f, tot, norm = 0.5, 1.0, 0.0, 0.0
    for o in range(octv):
        tot += a * _vn(x * f, y * f, z * f, s + o)
        norm += a
        a *= 0.5
        f *= 2.03
    return tot / norm


@njit(**F)
def _albedo(m, lx, ly, lz, nx, ny, nz, wx, wy, wz, hx, hy, hz, c1, c2, s):
    """returns r,g,b, emission scale, gloss.  m: material id (see scene.py)."""
    anx, any_, anz = abs(nx), abs(ny), abs(nz)
    if anx >= any_ and anx >= anz:
        u, v = ly, lz
    elif any_ >= anz:
        u, v = lx, lz
    else:
        u, v = lx, ly
    k, emit, gloss = 1.0, 0.0, 0.0
    r, g, b = c1[0], c1[1], c1[2]
    if m == 1:  # wood: rings around the longest axis
        if hx >= hy and hx >= hz:
            al, r2 = lx, ly * ly + lz * lz
        elif hy >= hz:
            al, r2 = ly, lx * lx + lz * lz
        else:
            al, r2 = lz, lx * lx + ly * ly
        rr = np.sqrt(r2)
        gr = np.sin((rr * 40 + 3 * _fbm(al * 0.5, rr * 6, rr * 6, s, 2)) * 2) * 0.5 + 0.5
        k = 0.75 + 0.25 * gr * gr * gr - 0.1 * _vn(al * 20, rr * 200, 0.0, s + 7)
        gloss = 0.15
    elif m == 10:  # floor planks (world xy)
        row = np.floor(wy / 0.15)
        xs = wx + _h(np.int64(row), 1, 3, s) * 2.0
        col = np.floor(xs / 1.2)
        jit = _h(np.int64(row), np.int64(col), 0, s)
        gr = np.sin(wy * 90 + 4 * _fbm(xs * 0.7, wy * 12, jit * 9, s, 2)) * 0.5 + 0.5
        k = (0.7 + 0.3 * jit) * (0.85 + 0.15 * gr)
        fy_, fx_ = wy / 0.15, xs / 1.2
        if abs(fy_ - np.round(fy_)) < 0.03 or abs(fx_ - np.round(fx_)) < 0.004:
            k *= 0.55
        gloss = 0.25
    elif m == 2:  # tiles
        fu, fv = wx / 0.45, wy / 0.45
        iu, iv = np.int64(np.floor(fu)), np.int64(np.floor(fv))
        jit = _h(iu, iv, 0, s)
        k = (0.9 + 0.1 * ((iu + iv) & 1)) * (0.92 + 0.08 * jit) * (0.95 + 0.05 * _fbm(wx * 8, wy * 8, wz * 8, s, 2))
        if abs(fu - np.round(fu)) < 0.02 or abs(fv - np.round(fv)) < 0.02:
            r, g, b, k = 0.35, 0.35, 0.35, 1.0
        gloss = 0.35
    elif m == 3:  # wallpaper stripes
        hcoord = ly if anx >= any_ else lx
        if np.sin(hcoord * 2 * np.pi / 0.12) > 0.3:
            r, g, b = c2[0], c2[1], c2[2]
        k = 0.95 + 0.05 * _fbm(lx * 6, ly * 6, lz * 6, s, 2)
    elif m == 4:  # fabric weave + mottling
        k = (0.9 + 0.1 * np.sin(u * 500) * np.sin(v * 500)) * (0.8 + 0.2 * _fbm(lx * 5, ly * 5, lz * 5, s, 3))
    elif m == 9:  # rug pattern with border
        pat = np.sin(u * 2 * np.pi / 0.25) * np.sin(v * 2 * np.pi / 0.25) > 0
        if min(hx - abs(lx), hy - abs(ly)) < 0.1:
            pat = True
        if not pat:
            r, g, b = c2[0], c2[1], c2[2]
        k = 0.8 + 0.2 * _fbm(wx * 40, wy * 40, wz * 40, s, 2)
    elif m == 8:  # painting
        n1 = _fbm(u * 3, v * 3, 0.5, s, 3)
        n2 = _fbm(u * 5, v * 5, 1.5, s + 11, 2)
        r = c1[0] * n1 + c2[0] * (1 - n1) * 0.7 + (0.3 * n2 if n2 > 0.6 else 0.0)
        g = c1[1] * n1 + c2[1] * (1 - n1) * 0.7 + (0.3 * (1 - n2) if n2 > 0.6 else 0.0)
        b = c1[2] * n1 + c2[2] * (1 - n1) * 0.7 + (0.3 * n1 if n2 > 0.6 else 0.0)
    elif m == 5:  # screen
        gloss = 0.9
    elif m == 6:  # emissive (window, lamp shade)
        k = 0.6
        emit = 0.9 * (0.97 + 0.03 * _vn(lx * 10, ly * 10, lz * 10, s))
    elif m == 7:  # plaster
        k = 0.94 + 0.06 * _fbm(lx * 3, ly * 3, lz * 3, s, 3)
    else:  # plain plastic/metal
        k = 0.93 + 0.07 * _fbm(lx * 4, ly * 4, lz * 4, s, 2)
        gloss = 0.3
    return r * k, g * k, b * k, emit, gloss


@njit(parallel=True, **F)
def shade_kernel(rays, part, mat, col, col2, seed, half, pw, nw, pl, nl, lights, lint, lcol, vis, amb, ao, out):
    N = rays.shape[0]
    L = lights.shape[0]
    for i in prange(N):
        k = part[i]
        if k < 0:
            out[i, 0] = out[i, 1] = out[i, 2] = 0.0
            continue
        r, g, b, em, gl = _albedo(
            mat[k],
            pl[i, 0],
            pl[i, 1],
            pl[i, 2],
            nl[i, 0],
            nl[i, 1],
            nl[i, 2],
            pw[i, 0],
            pw[i, 1],
            pw[i, 2],
            half[k, 0],
            half[k, 1],
            half[k, 2],
            col[k],
            col2[k],
            seed[k],
        )
        dx, dy, dz = rays[i, 3], rays[i, 4], rays[i, 5]
        dn = np.sqrt(dx * dx + dy * dy + dz * dz)
        dx, dy, dz = dx / dn, dy / dn, dz / dn
        e = amb * (0.8 + 0.2 * nw[i, 2]) * ao[i]
        er, eg, eb, sp = e, e, e, 0.0
        for li in range(L):
            lx, ly, lz = lights[li, 0] - pw[i, 0], lights[li, 1] - pw[i, 1], lights[li, 2] - pw[i, 2]
            d2 = lx * lx + ly * ly + lz * lz
            d = np.sqrt(d2)
            lx, ly, lz = lx / d, ly / d, lz / d
            ndl = nw[i, 0] * lx + nw[i, 1] * ly + nw[i, 2] * lz
            if ndl <= 0:
                continue
            f = lint[li] * ndl * vis[li, i] / max(d2, 0.3) / np.pi
            er += f * lcol[li, 0]
            eg += f * lcol[li, 1]
            eb += f * lcol[li, 2]
            hx, hy, hz = lx - dx, ly - dy, lz - dz
            hn = np.sqrt(hx * hx + hy * hy + hz * hz)
            ndh = max(0.0, (nw[i, 0] * hx + nw[i, 1] * hy + nw[i, 2] * hz) / hn)
            sp += gl * ndh**40 * lint[li] * vis[li, i] / max(d2, 0.3) * 0.4
        out[i, 0] = r * er + sp + em * col[k, 0]
        out[i, 1] = g * eg + sp + em * col[k, 1]
        out[i, 2] = b * eb + sp + em * col[k, 2]


# ------------------------------------------------------------------ edges
# Serial: each pixel pair may flag the lower or the right neighbour, so parallel rows would race.
@njit(**F)
def edge_kernel(depth, ncam, sem, ins, fx, fy, cx, cy, rel, abs_, cosc, out):
    H, W = depth.shape
    for y in prange(H):
        for x in range(W):
            out[y, x] = 0
    for y in prange(H):
        for x in range(W):
            for dirn in range(2):
                x2, y2 = (x + 1, y) if dirn == 0 else (x, y + 1)
                if x2 >= W or y2 >= H:
                    continue
                za, zb = depth[y, x], depth[y2, x2]
                ax_, ay_ = (x - cx) / fx, (y - cy) / fy
                bx_, by_ = (x2 - cx) / fx, (y2 - cy) / fy
                na0, na1, na2 = ncam[y, x, 0], ncam[y, x, 1], ncam[y, x, 2]
                nb0, nb1, nb2 = ncam[y2, x2, 0], ncam[y2, x2, 1], ncam[y2, x2, 2]
                # plane-predicted depth residual, both directions
                pa = za * (na0 * ax_ + na1 * ay_ + na2)
                pb = zb * (nb0 * bx_ + nb1 * by_ + nb2)
                den_b = na0 * bx_ + na1 * by_ + na2
                den_a = nb0 * ax_ + nb1 * ay_ + nb2
                r1 = abs(pa / den_b - zb) if abs(den_b) > 1e-6 else 1e9
                r2 = abs(pb / den_a - za) if abs(den_a) > 1e-6 else 1e9
                jump = min(r1, r2) > abs_ + rel * min(za, zb)
                flag = 0
                if jump:
                    flag |= 1
                if ins[y, x] != ins[y2, x2]:
                    flag |= 2
                if sem[y, x] != sem[y2, x2]:
                    flag |= 4
                if flag:
                    if za <= zb:
                        out[y, x] |= flag
                    else:
                        out[y2, x2] |= flag
                elif na0 * nb0 + na1 * nb1 + na2 * nb2 < cosc:
                    out[y, x] |= 8
