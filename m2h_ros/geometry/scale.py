"""Metric scale of monocular depth from the floor and the camera's known height above it.

A wheeled or legged robot knows how high its camera sits. Each frame, the floor's orientation is the
median of the normals the network predicts on the pixels it labels as ground; with the known height
that fixes the floor plane, so each ground pixel whose normal agrees has a metric depth, where its
ray meets that plane. The median ratio of those depths to the predicted ones is the frame's scale.
(A plane fitted to the predicted depth itself is less reliable: learned depth bends the floor, while
learned normals keep its orientation to within a few degrees.) Estimates are smoothed over time (in
log space) behind an outlier gate, and the last good scale holds while too little floor is seen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from m2h_ros.config import check
from m2h_ros.geometry.cloud import Intrinsics


@dataclass
class ScaleConfig:
    mode: str = "none"  # none: depth as the network predicts it; floor: scaled by the floor's height
    camera_height_m: float = 0.0  # the optical centre's height above the floor (mode floor)
    min_floor_pixels: int = 400  # fewer ground pixels: no estimate this frame
    max_normal_angle_deg: float = 20.0  # ground pixels whose predicted normal is further from the floor's are left out
    smoothing: float = 0.2  # weight of a new estimate in the running (log) scale
    gate: float = 0.3  # an estimate further than this (relative) from the running scale is rejected ...
    reset_after: int = 15  # ... unless this many in a row are: then the running scale restarts from it

    def __post_init__(self) -> None:
        check(self.mode in ("none", "floor"), "mode", f"must be none or floor, got {self.mode!r}")
        check(self.mode == "none" or self.camera_height_m > 0, "camera_height_m",
              "must be > 0 with mode floor (the camera's height above the floor, metres)")  # fmt: skip
        check(0 < self.smoothing <= 1, "smoothing", f"must be within (0, 1], got {self.smoothing}")
        check(self.min_floor_pixels >= 3, "min_floor_pixels", "must be >= 3")


@dataclass(frozen=True)
class ScaleEstimate:
    scale: float  # the running scale after this frame (1.0 until a first estimate)
    measured: float | None  # this frame's estimate, None without one
    accepted: bool  # the measurement passed the gate
    confidence: float  # share of the ground pixels used, times min(1, used / min_floor_pixels)
    plane: tuple[float, float, float, float] | None  # n_x, n_y, n_z, d of n·p + d = 0, camera frame, metric
    reason: str  # ok, gated, too_little_floor, no_plane (the floor's normal does not face the camera)


class FloorScale:
    """The running metric scale of one camera's predicted depth (see the module docstring)."""

    def __init__(self, config: ScaleConfig, seed: int = 0):
        self.config = config
        self.log_scale: float | None = None
        self.rejected_in_a_row = 0
        self.rng = np.random.default_rng(seed)

    @property
    def scale(self) -> float:
        return math.exp(self.log_scale) if self.log_scale is not None else 1.0

    def update(self, depth: np.ndarray, normals: np.ndarray, ground: np.ndarray, K: Intrinsics) -> ScaleEstimate:
        """One frame: ``depth`` (H, W) as predicted, ``normals`` (H, W, 3) camera frame, ``ground`` (H, W)
        bool mask of ground labels, ``K`` the depth image's camera."""
        cfg = self.config
        mask = ground & np.isfinite(depth) & (depth > 0)
        if mask.sum() < cfg.min_floor_pixels:
            return self.hold("too_little_floor")
        v, u = np.nonzero(mask)
        if len(v) > 8000:  # enough for a median, bounded cost
            keep = self.rng.choice(len(v), 8000, replace=False)
            v, u = v[keep], u[keep]
        normal = np.median(normals[v, u], axis=0)
        normal /= max(np.linalg.norm(normal), 1e-12)
        agree = normals[v, u] @ normal > math.cos(math.radians(cfg.max_normal_angle_deg))
        rays = np.stack([(u - K.cx) / K.fx, (v - K.cy) / K.fy, np.ones(len(u))], axis=1)[agree]
        facing = rays @ normal < -1e-6  # rays that meet the floor plane in front of the camera
        if facing.sum() < cfg.min_floor_pixels:
            return self.hold("too_little_floor" if agree.sum() < cfg.min_floor_pixels else "no_plane")
        metric = -cfg.camera_height_m / (rays[facing] @ normal)  # depth where each ray meets the floor
        measured = float(np.median(metric / depth[v[agree][facing], u[agree][facing]]))
        confidence = facing.sum() / len(v) * min(1.0, facing.sum() / cfg.min_floor_pixels)
        accepted = self._fold(math.log(measured))
        return ScaleEstimate(self.scale, measured, accepted, float(confidence),
                             (*map(float, normal), cfg.camera_height_m), "ok" if accepted else "gated")  # fmt: skip

    def _fold(self, log_measured: float) -> bool:
        """Fold a measurement into the running scale unless the gate rejects it."""
        cfg = self.config
        if self.log_scale is not None and abs(math.exp(log_measured - self.log_scale) - 1) > cfg.gate:
            self.rejected_in_a_row += 1
            if self.rejected_in_a_row < cfg.reset_after:
                return False
            self.log_scale = None  # the scene (or the camera) changed for good: start again
        self.rejected_in_a_row = 0
        self.log_scale = (log_measured if self.log_scale is None
                          else (1 - cfg.smoothing) * self.log_scale + cfg.smoothing * log_measured)  # fmt: skip
        return True

    def hold(self, reason: str) -> ScaleEstimate:
        """No estimate this frame (``reason``): the running scale holds."""
        return ScaleEstimate(self.scale, None, False, 0.0, None, reason)
