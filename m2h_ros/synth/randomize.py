"""Domain randomisation: what the camera and the home look like varies, so that what a network learns
is not tied to one look.

A home draws its camera mount (height above the floor, mean pitch) and a jitter of its materials'
colours; each frame draws its field of view, the number, power and colour of the lights it is lit by,
and the camera's processing: exposure, white balance, sensor noise, defocus blur and JPEG compression.
Everything comes from the seeds, so a randomised dataset is as reproducible as a plain one.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from m2h_ros.config import check


@dataclass(frozen=True)
class Randomization:
    """The ranges drawn from (uniformly unless said otherwise)."""

    hfov_deg: tuple[float, float] = (50.0, 90.0)  # horizontal field of view, per frame
    height_m: tuple[float, float] = (0.6, 1.6)  # camera height above the floor, per home
    pitch_deg: tuple[float, float] = (-22.0, 0.0)  # mean pitch (negative: down), per home
    material_jitter: float = 0.25  # relative change of each part's albedo, per channel, per home
    lights: tuple[int, int] = (1, 3)  # lights shading a frame
    light_power: tuple[float, float] = (0.5, 1.6)  # factor on each light's power
    light_tint: float = 0.25  # relative change of each light colour's channels
    exposure_stops: tuple[float, float] = (-1.0, 0.8)
    white_balance: float = 0.15  # relative change of each colour channel's gain
    noise: tuple[float, float] = (0.0, 0.03)  # sensor noise σ (of full scale)
    blur_px: tuple[float, float] = (0.0, 1.2)  # Gaussian σ; below 0.3 px no blur
    jpeg_quality: tuple[int, int] = (35, 95)  # drawn for half of the frames; the other half stay lossless

    def __post_init__(self) -> None:
        check(0 < self.hfov_deg[0] <= self.hfov_deg[1] < 170, "hfov_deg", "must be within (0, 170) degrees")
        check(
            0 < self.height_m[0] <= self.height_m[1] < 2.2, "height_m", "must be within (0, 2.2) m (under the ceiling)"
        )
        check(1 <= self.lights[0] <= self.lights[1], "lights", "must be at least 1")


@dataclass(frozen=True)
class Mount:
    """One home's camera mount."""

    height_m: float
    pitch_deg: float


@dataclass(frozen=True)
class Look:
    """One frame's camera and lighting draw."""

    hfov_deg: float
    lights: int
    light_power: np.ndarray  # (lights,) factors
    light_tint: np.ndarray  # (lights, 3) factors
    exposure: float  # factor on the auto-exposure
    white_balance: np.ndarray  # (3,) channel gains, mean 1
    noise: float
    blur_px: float
    jpeg_quality: int  # 0: lossless


def draw_mount(rng: np.random.Generator, r: Randomization) -> Mount:
    return Mount(float(rng.uniform(*r.height_m)), float(rng.uniform(*r.pitch_deg)))


def jitter_materials(A: dict, rng: np.random.Generator, amount: float) -> dict:
    """A copy of the scene arrays with every part's two albedo colours scaled per channel."""
    A = dict(A)
    for key in ("col", "col2"):
        A[key] = np.clip(A[key] * rng.uniform(1 - amount, 1 + amount, A[key].shape), 0, 1).astype(np.float32)
    return A


def draw_look(rng: np.random.Generator, r: Randomization) -> Look:
    n = int(rng.integers(r.lights[0], r.lights[1] + 1))
    wb = rng.uniform(1 - r.white_balance, 1 + r.white_balance, 3)
    return Look(
        hfov_deg=float(rng.uniform(*r.hfov_deg)),
        lights=n,
        light_power=rng.uniform(*r.light_power, n).astype(np.float32),
        light_tint=rng.uniform(1 - r.light_tint, 1 + r.light_tint, (n, 3)).astype(np.float32),
        exposure=float(2 ** rng.uniform(*r.exposure_stops)),
        white_balance=(wb / wb.mean()).astype(np.float32),
        noise=float(rng.uniform(*r.noise)),
        blur_px=float(rng.uniform(*r.blur_px)),
        jpeg_quality=int(rng.integers(r.jpeg_quality[0], r.jpeg_quality[1] + 1)) if rng.random() < 0.5 else 0,
    )


def intrinsics_fov(width: int, height: int, hfov_deg: float) -> np.ndarray:
    """Square-pixel pinhole intrinsics with the principal point at the centre."""
    f = width / 2 / np.tan(np.deg2rad(hfov_deg) / 2)
    return np.array([[f, 0, width / 2 - 0.5], [0, f, height / 2 - 0.5], [0, 0, 1.0]])


def degrade(rgb: np.ndarray, look: Look) -> np.ndarray:
    """Defocus blur and JPEG compression of a rendered (H, W, 3) uint8 image."""
    if look.blur_px >= 0.3:
        rgb = cv2.GaussianBlur(rgb, (0, 0), look.blur_px)
    if look.jpeg_quality:
        _, buf = cv2.imencode(".jpg", rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, look.jpeg_quality])
        rgb = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]
    return np.ascontiguousarray(rgb)
