"""Camera model and collision-free camera walks through every room of a scene.

Camera frame: the optical frame of REP 103 / OpenCV (x right, y down, z forward). Poses are
camera-to-world: a point p_cam maps to R @ p_cam + t. Ray directions have a camera-z component of
1, so the ray parameter of a hit *is* the metric z-depth.

Trajectory: rooms are visited depth-first over the door graph through the door centres; paths are
planned with A* on a 5 cm occupancy grid, resampled by arc length and smoothed; the camera looks
along a blend of the walking direction and the direction to the room centre, at the mount height
(default 1.35 m) ± 0.15 m, pitched within ±8° of the mount pitch (default 12° down).
"""

from __future__ import annotations

import heapq
import itertools

import numpy as np
from scipy import ndimage

from m2h_ros.synth.parts import CLASS_ID, part_aabbs


def intrinsics(W, H, fx640=518.8):
    """NYUv2-Kinect-like intrinsics scaled to W x H."""
    f = fx640 * W / 640.0
    return np.array([[f, 0, W / 2 - 0.5], [0, f, H / 2 - 0.5], [0, 0, 1.0]])


def look_rotation(yaw, pitch, roll=0.0):
    """world-from-camera rotation; yaw about world z, pitch>0 looks up."""
    f = np.array([np.cos(pitch) * np.cos(yaw), np.cos(pitch) * np.sin(yaw), np.sin(pitch)])
    x = np.cross(f, [0, 0, 1.0])
    x /= np.linalg.norm(x)
    y = np.cross(f, x)
    c, s = np.cos(roll), np.sin(roll)
    x, y = c * x + s * y, -s * x + c * y
    return np.stack([x, y, f], 1)


def camera_rays(K: np.ndarray, width: int, height: int, R: np.ndarray, t: np.ndarray) -> np.ndarray:
    """(H·W, 6) float32 world rays (origin, direction), row-major; direction has camera-z component 1."""
    u, v = np.meshgrid(np.arange(width), np.arange(height))
    d = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u, float)], -1).reshape(-1, 3)
    return np.concatenate([np.broadcast_to(t, d.shape), d @ R.T], 1).astype(np.float32)


def occupancy(scene, res=0.05, inflate=0.3):
    W, D = scene.extent
    nx, ny = int(np.ceil(W / res)), int(np.ceil(D / res))
    occ = np.zeros((nx, ny), bool)
    A = scene.arrays()
    lo, hi = part_aabbs(A)
    skip = np.isin(
        A["cls"], [CLASS_ID["floor"], CLASS_ID["ceiling"], CLASS_ID["rug"], CLASS_ID["window"], CLASS_ID["picture"]]
    )
    low = lo[:, 2] < 1.9  # anything the camera body could hit
    for i in np.nonzero(~skip & low)[0]:
        a = np.floor(lo[i, :2] / res).astype(int)
        b = np.ceil(hi[i, :2] / res).astype(int)
        occ[max(a[0], 0) : b[0], max(a[1], 0) : b[1]] = True
    occ[0, :] = occ[-1, :] = occ[:, 0] = occ[:, -1] = True
    dist = ndimage.distance_transform_edt(~occ) * res
    return dist > inflate, dist, res


def astar(free, s, g):
    nx, ny = free.shape
    openq, came, cost = [(0, s)], {s: None}, {s: 0}
    nb = [(1, 0, 1), (-1, 0, 1), (0, 1, 1), (0, -1, 1), (1, 1, 1.414), (1, -1, 1.414), (-1, 1, 1.414), (-1, -1, 1.414)]
    while openq:
        _, c = heapq.heappop(openq)
        if c == g:
            break
        for dx, dy, w in nb:
            n = (c[0] + dx, c[1] + dy)
            if 0 <= n[0] < nx and 0 <= n[1] < ny and free[n]:
                nc = cost[c] + w
                if nc < cost.get(n, 1e18):
                    cost[n], came[n] = nc, c
                    heapq.heappush(openq, (nc + np.hypot(n[0] - g[0], n[1] - g[1]), n))
    if g not in came:
        return None
    path, c = [], g
    while c is not None:
        path.append(c)
        c = came[c]
    return path[::-1]


def trajectory(scene, n_frames=100, step=0.12, seed=0, height_m=1.35, pitch_deg=-12.0):
    """Visit rooms (DFS over the door graph) through door centres; returns a
    list of (R_wc, t_wc, room_id) poses."""
    rng = np.random.default_rng(seed)
    free, dist, res = occupancy(scene)
    wps = _waypoints(scene, rng, free, res)
    # door cells may be inside the inflated band: allow the thin corridor
    freeplan = dist > 0.22
    pts = []
    for a, b in itertools.pairwise(wps):
        seg = astar(freeplan, a, b)
        if seg:
            pts += seg
    P = (np.array(pts, float) + 0.5) * res
    # arc-length resample + smoothing
    dl = np.r_[0, np.cumsum(np.linalg.norm(np.diff(P, axis=0), axis=1))]
    s = np.arange(0, dl[-1], 0.02)
    P = np.stack([np.interp(s, dl, P[:, 0]), np.interp(s, dl, P[:, 1])], 1)
    P = ndimage.gaussian_filter1d(P, 12, axis=0, mode="nearest")
    tang = np.gradient(P, axis=0)
    yaw_move = np.unwrap(np.arctan2(tang[:, 1], tang[:, 0]))
    yaw_move = ndimage.gaussian_filter1d(yaw_move, 25, mode="nearest")
    idx = np.arange(0, len(P), max(1, int(step / 0.02)))[:n_frames]
    ph = rng.uniform(0, 2 * np.pi, 4)

    # look-at: blend motion direction with the direction to the current room centre
    def rid_of(x, y):
        return next((r.id for r in scene.rooms if r.rect[0] <= x < r.rect[2] and r.rect[1] <= y < r.rect[3]), -1)

    cen = np.array([[(r.rect[0] + r.rect[2]) / 2, (r.rect[1] + r.rect[3]) / 2] for r in scene.rooms])
    vc = np.zeros_like(P)
    for i in range(len(P)):
        c = cen[rid_of(*P[i])] - P[i]
        n = np.linalg.norm(c)
        vc[i] = c / n * min(1.0, n / 1.0) if n > 1e-6 else 0
    vm = np.stack([np.cos(yaw_move), np.sin(yaw_move)], 1)
    v = ndimage.gaussian_filter1d(0.5 * vm + 0.8 * vc, 25, axis=0, mode="nearest")
    yaw_look = np.unwrap(np.arctan2(v[:, 1], v[:, 0]))
    poses = []
    for i in idx:
        sk = s[i]
        yaw = yaw_look[i] + 0.5 * np.sin(0.35 * sk + ph[0]) + 0.2 * np.sin(0.9 * sk + ph[1])
        pitch = np.deg2rad(pitch_deg + 8 * np.sin(0.5 * sk + ph[2]))
        roll = np.deg2rad(1.5 * np.sin(1.3 * sk + ph[3]))
        z = height_m + 0.15 * np.sin(0.25 * sk + ph[1]) + 0.01 * np.sin(6 * sk)
        R = look_rotation(yaw, pitch, roll)
        x, y = P[i]
        poses.append((R, np.array([x, y, z]), rid_of(x, y)))
    return poses


def _waypoints(scene, rng: np.random.Generator, free: np.ndarray, res: float) -> list[tuple[int, int]]:
    """Grid cells to walk through: two free cells per room, rooms in depth-first order over the door
    graph from a random one, each door's centre on the way in and out."""
    adj = {r.id: [] for r in scene.rooms}
    for d in scene.doors:
        a, b = d.rooms
        adj[a].append((b, d))
        adj[b].append((a, d))
    start = int(rng.integers(len(scene.rooms)))
    order, seen = [], set()

    def dfs(r):
        seen.add(r)
        order.append(("room", r))
        for nb, d in adj[r]:
            if nb not in seen:
                order.append(("door", d))
                dfs(nb)
                order.append(("door", d))
                order.append(("room", r))

    dfs(start)
    wps = []
    for kind, x in order:
        if kind == "room":
            x0, y0, x1, y1 = scene.rooms[x].rect
            for _ in range(2):
                for _ in range(200):
                    p = (rng.uniform(x0 + 0.4, x1 - 0.4), rng.uniform(y0 + 0.4, y1 - 0.4))
                    ij = (int(p[0] / res), int(p[1] / res))
                    if free[ij]:
                        wps.append(ij)
                        break
        else:
            p = x.position
            wps.append((int(p[0] / res), int(p[1] / res)))
    return wps


def view_score(tracer, A, R, t, W=40, H=30):
    """cheap probe render: (#distinct non-structural instances, median depth)."""
    K = intrinsics(W, H)
    tt, part = tracer.cast(camera_rays(K, W, H, R, t))
    ok = part >= 0
    cls = A["cls"][part[ok]]
    objs = np.unique(A["inst"][part[ok]][cls > 3])
    return len(objs), float(np.median(tt[ok])) if ok.any() else 0.0
