"""Free space from one cloud: which places the camera saw through.

A depth image says more than where its surfaces are: the space between the camera and each surface is
empty. Hydra's TSDF records this by marching every ray; here it is done projectively, as a projective
TSDF update does, on a spherical range image around the sensor, so that only the cloud and the sensor's
position are needed (no intrinsics, no TF of the optical frame): each direction bin keeps the nearest
range seen in it, and a point lies in observed free space when it is in a bin that was seen and nearer
than that range by more than a margin. The nearest range per bin keeps it conservative: a bin that
holds a chair's edge and the wall behind it clears only the space in front of the chair.
"""

from __future__ import annotations

import numpy as np


class RangeImage:
    """The nearest range per direction bin of ``bin_rad`` radians (azimuth × elevation) seen from ``sensor``."""

    def __init__(self, points: np.ndarray, sensor: np.ndarray, bin_rad: float):
        self.sensor, self.bin_rad = np.asarray(sensor, np.float64), bin_rad
        self.n_az = int(np.ceil(2 * np.pi / bin_rad))
        self.n_el = int(np.ceil(np.pi / bin_rad)) + 1
        self.range = np.full(self.n_az * self.n_el, np.inf, np.float32)
        bins, r = self._bins(points)
        np.minimum.at(self.range, bins, r.astype(np.float32))
        self.reach = float(r.max()) if len(r) else 0.0  # the farthest point's range

    def _bins(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N,) bin index and (N,) range of world points (N, 3)."""
        d = points - self.sensor.astype(points.dtype)
        r = np.sqrt(np.einsum("ij,ij->i", d, d))
        az = np.arctan2(d[:, 1], d[:, 0]) + np.pi
        el = np.arccos(np.clip(d[:, 2] / np.maximum(r, 1e-9), -1.0, 1.0))
        ia = np.minimum((az / self.bin_rad).astype(np.int64), self.n_az - 1)
        ie = np.minimum((el / self.bin_rad).astype(np.int64), self.n_el - 1)
        return ie * self.n_az + ia, r

    def seen_through(self, points: np.ndarray, margin_m: float, margin_rel: float) -> np.ndarray:
        """(N,) bool: the points (N, 3) lie in free space this cloud observed, in front of the nearest
        surface of their direction by more than ``margin_m + margin_rel`` × that surface's range."""
        bins, r = self._bins(points)
        surface = self.range[bins]
        return np.isfinite(surface) & (r < surface * (1 - margin_rel) - margin_m)
