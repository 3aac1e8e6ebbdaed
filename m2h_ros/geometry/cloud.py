"""Back-projection of per-pixel predictions into a semantic point cloud (camera optical frame).

Optical frame (REP 103): x right, y down, z forward. A pixel (u, v) with depth z (metres along the
optical axis) lies at ((u - cx) z / fx, (v - cy) z / fy, z).

The cloud is a numpy structured array with the field layout Hydra's point-cloud input and
semantic_inference's ``labeled_cloud`` use: x, y, z float32, rgb uint32 packed 0x00RRGGBB, label int32.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from m2h_ros.config import check
from m2h_ros.errors import DataError

CLOUD_DTYPE = np.dtype([("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("rgb", "<u4"), ("label", "<i4")])


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics of an image of ``width`` × ``height`` pixels."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    def __post_init__(self) -> None:
        values = np.array([self.fx, self.fy, self.cx, self.cy], dtype=np.float64)
        if not np.isfinite(values).all():
            raise DataError(f"intrinsics must be finite, got fx={self.fx} fy={self.fy} cx={self.cx} cy={self.cy}")
        if self.fx <= 0 or self.fy <= 0:
            raise DataError(f"focal lengths must be positive, got fx={self.fx} fy={self.fy}")
        if self.width < 1 or self.height < 1:
            raise DataError(f"image size must be positive, got {self.width}×{self.height}")

    @classmethod
    def from_matrix(cls, K, width: int, height: int) -> Intrinsics:
        """From a 3×3 camera matrix (or its 9 row-major values, as in CameraInfo.k)."""
        K = np.asarray(K, dtype=np.float64).reshape(3, 3)
        return cls(float(K[0, 0]), float(K[1, 1]), float(K[0, 2]), float(K[1, 2]), int(width), int(height))

    def scaled(self, width: int, height: int) -> Intrinsics:
        """The same camera for a resized image (pixel centres stay aligned)."""
        sx, sy = width / self.width, height / self.height
        return Intrinsics(self.fx * sx, self.fy * sy, (self.cx + 0.5) * sx - 0.5, (self.cy + 0.5) * sy - 0.5,
                          width, height)  # fmt: skip


@dataclass(frozen=True)
class CloudOptions:
    stride: int = 1  # keep every stride-th pixel in each direction
    min_range_m: float = 0.1
    max_range_m: float = 10.0
    voxel_size_m: float = 0.0  # > 0: one point per voxel (the first pixel that falls into it)

    def __post_init__(self) -> None:
        check(self.stride >= 1, "stride", f"must be >= 1, got {self.stride}")
        check(0 <= self.min_range_m < self.max_range_m, "min_range_m", "must satisfy 0 <= min_range_m < max_range_m")
        check(self.voxel_size_m >= 0, "voxel_size_m", f"must be >= 0, got {self.voxel_size_m}")


def pack_rgb(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) uint8 -> (...) uint32 0x00RRGGBB."""
    rgb = rgb.astype(np.uint32)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


@functools.lru_cache(maxsize=8)
def _ray_grid(K: Intrinsics, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """x/z and y/z of every kept pixel's ray, (H/stride, W/stride) each."""
    u = (np.arange(0, K.width, stride, dtype=np.float32) - K.cx) / K.fx
    v = (np.arange(0, K.height, stride, dtype=np.float32) - K.cy) / K.fy
    return np.broadcast_to(u, (len(v), len(u))), np.broadcast_to(v[:, None], (len(v), len(u)))


def backproject(depth: np.ndarray, rgb: np.ndarray, labels: np.ndarray, K: Intrinsics,
                options: CloudOptions = CloudOptions()) -> np.ndarray:  # fmt: skip
    """(H, W) depth in metres, (H, W, 3) uint8 colour, (H, W) integer labels -> structured cloud (N,).

    Pixels with non-finite depth or depth outside [min_range_m, max_range_m] are dropped.
    """
    if depth.shape != (K.height, K.width):
        raise DataError(f"depth is {depth.shape[1]}×{depth.shape[0]} but the intrinsics are for {K.width}×{K.height}")
    s = options.stride
    z = depth[::s, ::s]
    keep = np.isfinite(z) & (z >= options.min_range_m) & (z <= options.max_range_m)
    xr, yr = _ray_grid(K, s)
    # Fill every kept pixel's record, then select once (cheaper than selecting each field).
    grid = np.empty(z.shape, dtype=CLOUD_DTYPE)
    grid["z"] = z
    np.multiply(xr, z, out=grid["x"])
    np.multiply(yr, z, out=grid["y"])
    grid["rgb"] = pack_rgb(rgb[::s, ::s])
    grid["label"] = labels[::s, ::s]
    cloud = grid[keep]
    if options.voxel_size_m > 0:
        cloud = voxel_downsample(cloud, options.voxel_size_m)
    return cloud


def voxel_downsample(cloud: np.ndarray, voxel_size_m: float) -> np.ndarray:
    """Keep the first point of every occupied voxel (order preserved)."""
    xyz = np.stack([cloud["x"], cloud["y"], cloud["z"]], axis=1)
    keys = np.floor(xyz / voxel_size_m).astype(np.int64)
    _, first = np.unique(keys, axis=0, return_index=True)
    return cloud[np.sort(first)]
