"""The augmentations of the ATRC / InvPT / MTMamba recipe, on :class:`~m2h_ros.data.nyud.Sample` tensors.

Training, in this order: random scaling (depth ÷ s), random crop that avoids crops dominated by one class,
horizontal flip (normal x negated), photometric distortion, normalisation, padding to the crop size.
Evaluation: normalisation and padding. Labels are always resampled by nearest neighbour; padding is
ignore in every target (``IGNORE`` for semseg and edges, 0 for depth and normals).
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
import torchvision.transforms.v2.functional as TF

from m2h_ros.config import check
from m2h_ros.data.nyud import IGNORE, Sample


def _resize(sample: Sample, size: tuple[int, int], depth_scale: float = 1.0) -> Sample:
    def nearest(x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x[None].float(), size=size, mode="nearest")[0].to(x.dtype)

    image = F.interpolate(sample.image[None], size=size, mode="bilinear", align_corners=False)[0]
    return dataclasses.replace(
        sample, image=image, semseg=nearest(sample.semseg[None])[0], depth=nearest(sample.depth) * depth_scale,
        normals=nearest(sample.normals), edges=nearest(sample.edges),
    )  # fmt: skip


def _crop(sample: Sample, top: int, left: int, h: int, w: int) -> Sample:
    return dataclasses.replace(
        sample, **{k: getattr(sample, k)[..., top : top + h, left : left + w] for k in ("image", *Sample.TARGETS)}
    )


def random_scale(sample: Sample, scale: tuple[float, float]) -> Sample:
    """Resize by s ~ U(scale); the scene looks s times closer, so depth is divided by s."""
    s = random.uniform(*scale)
    h, w = sample.image.shape[-2:]
    return _resize(sample, (max(1, round(h * s)), max(1, round(w * s))), 1.0 / s)


def random_crop(sample: Sample, size: tuple[int, int], max_class_ratio: float = 0.75, tries: int = 10) -> Sample:
    """A crop of at most ``size``; retried (up to ``tries``) while one class covers more than
    ``max_class_ratio`` of its labelled pixels."""
    h, w = sample.image.shape[-2:]
    ch, cw = min(size[0], h), min(size[1], w)
    for _ in range(tries):
        top, left = random.randint(0, h - ch), random.randint(0, w - cw)
        seg = sample.semseg[top : top + ch, left : left + cw]
        counts = torch.bincount(seg[seg != IGNORE].flatten())
        if counts.numel() == 0 or counts.max() <= max_class_ratio * counts.sum():
            break
    return _crop(sample, top, left, ch, cw)


def hflip(sample: Sample) -> Sample:
    """Mirror left-right; normals are in the camera frame, so their x component changes sign."""
    flipped = {k: getattr(sample, k).flip(-1) for k in ("image", *Sample.TARGETS)}
    flipped["normals"] = flipped["normals"] * torch.tensor([-1.0, 1.0, 1.0]).view(3, 1, 1)
    return dataclasses.replace(sample, **flipped)


def photometric(image: torch.Tensor) -> torch.Tensor:
    """mmseg's PhotoMetricDistortion on a (3, H, W) RGB image in [0, 255]: each step with p = 0.5,
    brightness ±32, contrast ×[0.5, 1.5] before or after saturation ×[0.5, 1.5] and hue ±18/180."""
    if random.random() < 0.5:
        image = (image + random.uniform(-32, 32)).clamp(0, 255)
    contrast_first = random.random() < 0.5

    def contrast(x: torch.Tensor) -> torch.Tensor:
        return (x * random.uniform(0.5, 1.5)).clamp(0, 255) if random.random() < 0.5 else x

    if contrast_first:
        image = contrast(image)
    x = image / 255
    if random.random() < 0.5:
        x = TF.adjust_saturation(x, random.uniform(0.5, 1.5))
    if random.random() < 0.5:
        x = TF.adjust_hue(x, random.uniform(-0.1, 0.1))
    image = x * 255
    return image if contrast_first else contrast(image)


def normalize(sample: Sample, mean: Sequence[float], std: Sequence[float]) -> Sample:
    """RGB in [0, 255] -> (x / 255 - mean) / std."""
    m = torch.tensor(mean).view(3, 1, 1) * 255
    s = torch.tensor(std).view(3, 1, 1) * 255
    return dataclasses.replace(sample, image=(sample.image - m) / s)


def pad(sample: Sample, size: tuple[int, int]) -> Sample:
    """Pad bottom/right to ``size``: image 0, semseg and edges ``IGNORE``, depth and normals 0 (invalid)."""
    h, w = sample.image.shape[-2:]
    ph, pw = max(0, size[0] - h), max(0, size[1] - w)
    if ph == pw == 0:
        return sample
    fill = {"image": 0.0, "semseg": IGNORE, "depth": 0.0, "normals": 0.0, "edges": float(IGNORE)}
    return dataclasses.replace(
        sample, **{k: F.pad(getattr(sample, k), (0, pw, 0, ph), value=v) for k, v in fill.items()}
    )


@dataclass
class AugmentConfig:
    crop_size: tuple[int, int] = (448, 576)  # (height, width), NYUD's
    scale: tuple[float, float] = (0.5, 2.0)
    flip: bool = True
    photometric: bool = True
    max_class_ratio: float = 0.75

    def __post_init__(self) -> None:
        self.crop_size, self.scale = tuple(self.crop_size), tuple(self.scale)
        check(len(self.crop_size) == 2 and min(self.crop_size) >= 14, "crop_size", "must be [height, width] >= 14")
        check(
            0 < self.scale[0] <= self.scale[1], "scale", f"must be [low, high] with 0 < low <= high, got {self.scale}"
        )
        check(0 < self.max_class_ratio <= 1, "max_class_ratio", "must be in (0, 1]")


class TrainTransform:
    """The full training pipeline; picklable, so it runs in DataLoader workers."""

    def __init__(self, cfg: AugmentConfig, mean: Sequence[float], std: Sequence[float]):
        self.cfg, self.mean, self.std = cfg, tuple(mean), tuple(std)

    def __call__(self, sample: Sample) -> Sample:
        cfg = self.cfg
        sample = random_scale(sample, cfg.scale)
        sample = random_crop(sample, cfg.crop_size, cfg.max_class_ratio)
        if cfg.flip and random.random() < 0.5:
            sample = hflip(sample)
        if cfg.photometric:
            sample = dataclasses.replace(sample, image=photometric(sample.image))
        return pad(normalize(sample, self.mean, self.std), cfg.crop_size)


class EvalTransform:
    """Normalisation and padding to a multiple of the patch size (or to ``size``)."""

    def __init__(self, mean: Sequence[float], std: Sequence[float], multiple: int = 14):
        self.mean, self.std, self.multiple = tuple(mean), tuple(std), multiple

    def __call__(self, sample: Sample) -> Sample:
        h, w = sample.image.shape[-2:]
        m = self.multiple
        return pad(normalize(sample, self.mean, self.std), (-(-h // m) * m, -(-w // m) * m))
