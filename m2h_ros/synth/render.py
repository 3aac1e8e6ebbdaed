"""Rendering a scene: open3d ray casting for the hits, numba kernels for everything per pixel.

Per frame: primary rays → exact ground truth from the analytic parts (z-depth, camera-frame
normals facing the camera, class and instance ids) → one jittered shadow ray per light towards a
disk area light, filtered edge-aware → procedural textures, Lambert + ambient + Blinn-Phong from the
two nearest ceiling lights → camera model (3×3 blur, auto-exposure, tone curve, gamma, optional
sensor noise) → edge flags. With a :class:`~m2h_ros.synth.randomize.Look`, the frame's lights, exposure,
white balance, noise, blur and JPEG compression are those it drew.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from m2h_ros.synth import kernels
from m2h_ros.synth.camera import camera_rays
from m2h_ros.synth.mesh import scene_meshes
from m2h_ros.synth.parts import M_EMIT
from m2h_ros.synth.randomize import Look, degrade

# Edge flags (uint8 bits). OCC, INST and SEM mark the foreground pixel of a boundary; CREASE marks
# a fold (> 30° between normals) inside one instance without a depth jump.
OCC, INST, SEM, CREASE = 1, 2, 4, 8


def edge_target(flags: np.ndarray) -> np.ndarray:
    """The binary edge training target: occlusion, instance or semantic boundaries."""
    return (flags & (OCC | INST | SEM)) > 0


@dataclass
class Frame:
    """One rendered view. Maps are (H, W[, 3]); ``pose`` is camera-to-world (4×4), ``K`` is 3×3."""

    rgb: np.ndarray  # uint8
    depth: np.ndarray  # float32 metres along the optical axis; 0 where nothing was hit
    normals: np.ndarray  # float32 unit, camera frame, facing the camera
    labels: np.ndarray  # uint8 synthetic class ids (0 void)
    instances: np.ndarray  # uint16 instance ids (0 none)
    edges: np.ndarray  # uint8 flags (OCC | INST | SEM | CREASE)
    K: np.ndarray
    pose: np.ndarray
    room: int


class Tracer:
    """open3d RaycastingScene over the part meshes: cast(rays) -> (t, part index or -1)."""

    def __init__(self, A: dict):
        import open3d as o3d

        self._o3d = o3d
        self.scene = o3d.t.geometry.RaycastingScene(nthreads=1)  # parallelism comes from worker processes
        tri_to_part = []
        for V, F, P in scene_meshes(A, group="inst"):
            self.scene.add_triangles(o3d.core.Tensor(V.astype(np.float32)), o3d.core.Tensor(F.astype(np.uint32)))
            tri_to_part.append(P.astype(np.int32))
        self._offsets = np.cumsum([0] + [len(p) for p in tri_to_part])[:-1].astype(np.int64)
        self._parts = np.concatenate(tri_to_part)

    def cast(self, rays: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        hit = self.scene.cast_rays(self._o3d.core.Tensor(rays), nthreads=1)
        t = hit["t_hit"].numpy()
        ok = np.isfinite(t)
        part = np.full(len(t), -1, np.int32)
        geometry, primitive = (
            hit["geometry_ids"].numpy().astype(np.int64),
            hit["primitive_ids"].numpy().astype(np.int64),
        )
        part[ok] = self._parts[self._offsets[geometry[ok]] + primitive[ok]]
        return t, part

    def occluded(self, rays: np.ndarray, tnear: float = 0.0, tfar: float = np.inf) -> np.ndarray:
        return self.scene.test_occlusions(self._o3d.core.Tensor(rays), tnear=tnear, tfar=tfar, nthreads=1).numpy()


class Renderer:
    """Renders views of one scene. ``noise`` is the sensor noise σ (0: noise-free RGB); ``arrays``
    replaces the scene's part arrays (e.g. with jittered materials)."""

    def __init__(self, scene, n_lights: int = 2, soft_shadow_m: float = 0.2, ambient: float = 0.12,
                 shadow_filter: int = 2, noise: float = 0.0, arrays: dict | None = None):  # fmt: skip
        self.scene, self.A = scene, arrays if arrays is not None else scene.arrays()
        self.tracer = Tracer(self.A)
        self.n_lights, self.soft, self.ambient, self.shadow_filter, self.noise = (
            n_lights, soft_shadow_m, ambient, shadow_filter, noise)  # fmt: skip
        self._cos, self._sin = np.cos(self.A["yaw"]), np.sin(self.A["yaw"])

    def render(self, K: np.ndarray, width: int, height: int, R: np.ndarray, t: np.ndarray, room: int = -1,
               frame_seed: int = 0, look: Look | None = None) -> Frame:  # fmt: skip
        A, n = self.A, width * height
        rays = camera_rays(K, width, height, R, t)
        hit_t, part = self.tracer.cast(rays)
        depth, ncam = np.empty(n, np.float32), np.zeros((n, 3), np.float32)
        sem, ins = np.empty(n, np.uint8), np.empty(n, np.uint16)
        pw, nw, pl, nl = (np.zeros((n, 3), np.float32) for _ in range(4))
        kernels.gt_kernel(rays, hit_t.astype(np.float32), part, A["type"], A["center"], A["half"], self._cos, self._sin,
                          A["cls"], A["inst"], R, depth, ncam, sem, ins, pw, nw, pl, nl)  # fmt: skip
        # The nearest lights, those of the camera's room first.
        lights = sorted(self.scene.lights, key=lambda li: (li.room != room, np.linalg.norm(li.pos - t)))
        lights = lights[: look.lights if look else self.n_lights]
        pos = np.array([li.pos for li in lights], np.float32)
        power = np.array([li.power for li in lights], np.float32)
        color = np.array([li.color for li in lights], np.float32)
        if look is not None:
            power, color = power * look.light_power[: len(lights)], color * look.light_tint[: len(lights)]
        shadow = np.empty((len(pos) * n, 6), np.float32)
        kernels.shadow_rays(pw, nw, part, pos, self.soft, frame_seed, shadow)
        vis = (~self.tracer.occluded(shadow, 0.0, 0.999)).astype(np.float32).reshape(len(pos), n)
        vis[:, part < 0] = 1
        ao = np.ones(n, np.float32)
        if self.shadow_filter and self.soft > 0:
            filtered = np.empty_like(vis)
            kernels.filter_vis(vis, ins, depth, height, width, self.shadow_filter, filtered)
            vis = filtered
        linear = np.empty((n, 3), np.float32)
        kernels.shade_kernel(rays, part, A["mat"], A["col"], A["col2"], A["seed"], A["half"], pw, nw, pl, nl, pos,
                             power, color, vis, self.ambient, ao, linear)  # fmt: skip
        # Auto-exposure on the 92nd percentile of non-emissive pixels (windows and lamps would dominate).
        sample = linear[::7][A["mat"][part[::7]] != M_EMIT].mean(1)
        sample = sample if len(sample) >= 100 else linear[::7].mean(1)
        k = int(0.92 * len(sample))
        exposure = 0.75 / max(float(np.partition(sample, k)[k]), 1e-3)
        noise = self.noise
        if look is not None:  # after auto-exposure, so that the draw over- or under-exposes
            linear *= look.white_balance
            exposure, noise = exposure * look.exposure, look.noise
        rgb = np.empty((height, width, 3), np.uint8)
        kernels.post_kernel(linear, height, width, exposure * 1.3, frame_seed, noise, rgb)
        if look is not None:
            rgb = degrade(rgb, look)
        depth, ncam = depth.reshape(height, width), ncam.reshape(height, width, 3)
        sem, ins = sem.reshape(height, width), ins.reshape(height, width)
        edges = np.zeros((height, width), np.uint8)
        kernels.edge_kernel(depth, ncam, sem, ins, K[0, 0], K[1, 1], K[0, 2], K[1, 2], 0.03, 0.01,
                            np.cos(np.deg2rad(30.0)), edges)  # fmt: skip
        pose = np.eye(4)
        pose[:3, :3], pose[:3, 3] = R, t
        return Frame(rgb, depth, ncam, sem, ins, edges, K, pose, room)
