"""The NYUDv2 multi-task layout (MTI-Net / InvPT / MTMamba), which the synthetic datasets also use.

::

    images/<id>.png         RGB uint8
    cameras/<id>.json       optional: {"K": 3×3 intrinsics, ...} (the synthetic datasets write it)
    depth/<id>.npy          float32 metres, 0 = invalid
    segmentation/<id>.png   uint8 label ids of ``file_label_space`` (NYU-40: 0 = void, 1..40)
    normals/<id>.png        RGB uint8, n = 2·v/255 - 1; (0, 0, 0) = invalid
    edge/<id>.png           uint8 {0, 255}
    gt_sets/<split>.txt     one id per line

Semantic targets follow one of two conventions, chosen per model:

- ``m2h``: the network has one output per class of the label space, void (id 0) included; void pixels
  are ignored in the loss and class 0 is left out of mIoU (the M2H prototype: CE with ignore_index 0).
- ``invpt``: the network has no void output; ids shift down by one and void becomes ignore (InvPT,
  MTMamba: 40 NYUD classes).

A :class:`Sample` holds float tensors in channel-first layout; invalid pixels are ``IGNORE`` (255) in
``semseg`` and ``edges``, 0 in ``depth`` and the zero vector in ``normals`` (ATRC's ``AddIgnoreRegions``
marks the same pixels).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image

from m2h_ros import labels
from m2h_ros.errors import DataError

IGNORE = 255
Convention = Literal["m2h", "invpt"]


@dataclass
class Sample:
    """One frame. image (3, H, W) float RGB in [0, 255] until normalised; semseg (H, W) int64;
    depth (1, H, W) metres; normals (3, H, W); edges (1, H, W) in {0, 1, IGNORE}; focal_px () the
    camera's focal length in pixels at the depth's scale (0: unknown). Random scaling divides depth and
    keeps the focal length (the scene comes closer), so depth × depth_focal_px / focal_px stays canonical."""

    image: torch.Tensor
    semseg: torch.Tensor
    depth: torch.Tensor
    normals: torch.Tensor
    edges: torch.Tensor
    focal_px: torch.Tensor = field(default_factory=lambda: torch.zeros(()))
    id: str = ""

    TARGETS = ("semseg", "depth", "normals", "edges")


def num_outputs(label_space: str, convention: Convention) -> int:
    """How many semantic outputs a network trained with ``convention`` on ``label_space`` has."""
    n = len(labels.get_label_space(label_space))
    return n if convention == "m2h" else n - 1


def scored_classes(label_space: str, convention: Convention) -> np.ndarray:
    """The output indices mIoU averages over: every class but void."""
    n = num_outputs(label_space, convention)
    return np.arange(1, n) if convention == "m2h" else np.arange(n)


def target_table(file_label_space: str, label_space: str, convention: Convention) -> np.ndarray:
    """(256,) uint8: file id -> training target (``IGNORE`` for void and for classes the space lacks)."""
    table = np.full(256, IGNORE, dtype=np.uint8)
    to_space = labels.remap_table(file_label_space, label_space)
    ids = np.where(to_space > 0, to_space - (convention == "invpt"), IGNORE)
    table[: len(ids)] = ids
    return table


class MultiTaskDataset(torch.utils.data.Dataset):
    """Frames of one split of a dataset in the NYUDv2 multi-task layout.

    ``transform`` maps a :class:`Sample` to a :class:`Sample` (see :mod:`m2h_ros.data.transforms`).
    ``need_focal`` refuses a dataset without cameras/ (for canonical-camera networks).
    ``cache`` keeps the decoded frames in memory (about 1 MB per 320×240 frame), which pays off when
    training for many epochs on a small machine.
    """

    def __init__(self, root: str | Path, split: str = "train", *, label_space: str = "nyu40",
                 file_label_space: str = "nyu40", convention: Convention = "m2h",
                 transform: Callable[[Sample], Sample] | None = None, cache: bool = False,
                 need_focal: bool = False):  # fmt: skip
        self.root = Path(root)
        if need_focal and not (self.root / "cameras").is_dir():
            raise DataError(f"{self.root}: no cameras/ folder; a canonical-camera network (depth_focal_px > 0) needs "
                            "each frame's intrinsics in cameras/<id>.json (`m2h synth dataset` writes them)")  # fmt: skip
        listing = self.root / "gt_sets" / f"{split}.txt"
        if not listing.is_file():
            raise DataError(
                f"{listing}: no such split file; a dataset root holds images/, depth/, segmentation/, normals/, "
                "edge/ and gt_sets/<split>.txt (make one with `m2h synth dataset`)"
            )
        self.ids = [line.strip() for line in listing.read_text().splitlines() if line.strip()]
        if not self.ids:
            raise DataError(f"{listing} lists no frames")
        self.split = split
        self.label_space, self.convention = label_space, convention
        self.num_classes = num_outputs(label_space, convention)
        self._table = torch.from_numpy(target_table(file_label_space, label_space, convention))
        self.transform = transform
        self._cache: dict[int, Sample] | None = {} if cache else None

    def __len__(self) -> int:
        return len(self.ids)

    def _read(self, fid: str) -> Sample:
        def png(folder: str) -> np.ndarray:
            with Image.open(self.root / folder / f"{fid}.png") as im:
                return np.array(im)

        rgb = png("images")
        if rgb.ndim == 2:
            rgb = np.repeat(rgb[..., None], 3, axis=2)
        seg = torch.from_numpy(png("segmentation").astype(np.int64))
        normals = torch.from_numpy(png("normals")).permute(2, 0, 1).float() * (2 / 255) - 1
        normals[:, (normals == -1).all(0)] = 0  # (0, 0, 0) encodes "invalid"
        edges = torch.from_numpy((png("edge") > 127).astype(np.float32))[None]
        depth = torch.from_numpy(np.load(self.root / "depth" / f"{fid}.npy").astype(np.float32))
        camera = self.root / "cameras" / f"{fid}.json"
        focal = json.loads(camera.read_text())["K"][0][0] if camera.is_file() else 0.0
        return Sample(
            image=torch.from_numpy(np.ascontiguousarray(rgb[..., :3])).permute(2, 0, 1).float(),
            semseg=self._table[seg.clamp(0, 255)].long(),
            depth=torch.nan_to_num(depth, nan=0.0).clamp_min(0).reshape(1, *depth.shape[-2:]),
            normals=normals,
            edges=edges,
            focal_px=torch.tensor(float(focal)),
            id=fid,
        )

    def __getitem__(self, index: int) -> Sample:
        if self._cache is None:
            sample = self._read(self.ids[index])
        else:
            if index not in self._cache:
                self._cache[index] = self._read(self.ids[index])
            sample = self._cache[index]
        return self.transform(sample) if self.transform else sample


def collate(samples: list[Sample]) -> Sample:
    """Stack samples of one size into a batch (each tensor gains a leading batch dimension)."""
    return Sample(
        image=torch.stack([s.image for s in samples]),
        semseg=torch.stack([s.semseg for s in samples]),
        depth=torch.stack([s.depth for s in samples]),
        normals=torch.stack([s.normals for s in samples]),
        edges=torch.stack([s.edges for s in samples]),
        focal_px=torch.stack([s.focal_px for s in samples]),
        id=",".join(s.id for s in samples),
    )
