"""Predictor: RGB uint8 images of any size in, metric depth, labels, normals and edges out.

The network runs at a fixed ``input_size``; images are resized to it and the outputs resized back:
depth, normals and edge probability bilinearly (normals renormalised), labels by nearest neighbour
from the argmax at network resolution (as mono_hydra does; cheaper than resizing 41 logit maps).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from m2h_ros.config import check
from m2h_ros.errors import ConfigError, ImageError
from m2h_ros.inference.postprocess import channel_argmax, upsample_outputs
from m2h_ros.labels import get_label_space
from m2h_ros.model.m2h import Outputs, metric_depth


@dataclass
class PredictorConfig:
    device: Literal["auto", "cpu", "cuda"] = "auto"
    dtype: Literal["fp32", "fp16", "bf16"] = "fp32"  # fp16/bf16: autocast, CUDA only
    backend: Literal["torch", "onnxruntime"] = "torch"
    input_size: tuple[int, int] = (224, 224)  # (height, width) the network runs at
    threads: int = 0  # CPU threads (0: library default)
    # antialias: uint8, antialiased when shrinking (sharper, faster); bilinear: the authors' M2H node
    # (float, plain bilinear), which their checkpoints need to reproduce their outputs exactly
    resize: Literal["antialias", "bilinear"] = "antialias"

    def __post_init__(self) -> None:
        self.input_size = tuple(self.input_size)
        h, w = self.input_size
        check(
            14 <= h <= 4096 and 14 <= w <= 4096, "input_size", f"must be within 14..4096 pixels, got {self.input_size}"
        )
        check(self.threads >= 0, "threads", f"must be >= 0, got {self.threads}")
        check(self.dtype == "fp32" or self.device != "cpu", "dtype", f"{self.dtype} needs device cuda")
        check(self.backend == "torch" or self.dtype == "fp32", "dtype", "the onnxruntime backend runs fp32 only")


@dataclass
class Prediction:
    """Per-pixel outputs at the input image's resolution (H, W)."""

    depth: np.ndarray  # (H, W) float32 metres
    labels: np.ndarray  # (H, W) int16 class ids of the model's label space
    normals: np.ndarray  # (H, W, 3) float32 unit vectors, camera optical frame
    edges: np.ndarray  # (H, W) float32 probability
    timings_ms: dict[str, float] = field(default_factory=dict)


def resolve_device(name: str) -> torch.device:
    """The one place that chooses the device: ``auto`` is CUDA when available, else CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' requested but CUDA is not available; use device 'cpu' or 'auto'")
    return torch.device(name)


def as_rgb(image: np.ndarray) -> np.ndarray:
    """(H, W) grey, (H, W, 1), (H, W, 3) RGB or (H, W, 4) RGBA uint8 -> (H, W, 3) RGB uint8."""
    if image.dtype != np.uint8:
        raise ImageError(f"expected a uint8 image, got dtype {image.dtype}", "encoding")
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
        raise ImageError(f"expected an (H, W), (H, W, 3) or (H, W, 4) image, got shape {image.shape}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ImageError(f"empty image of shape {image.shape}", "empty")
    if image.shape[2] == 1:
        return np.repeat(image, 3, axis=2)
    return image[..., :3]


class Predictor:
    """Runs an M2H network on RGB images. Build it from a checkpoint or around a model object."""

    def __init__(self, model: torch.nn.Module, config: PredictorConfig | None = None):
        self.config = config or PredictorConfig()
        self.device = resolve_device(self.config.device)
        if self.config.threads:
            torch.set_num_threads(self.config.threads)
        self.model = model.eval().to(self.device)
        cfg = model.config
        self.label_space = cfg.label_space
        # A network without a void output (the InvPT convention) predicts label-space id - 1.
        self._label_offset = len(get_label_space(cfg.label_space)) - cfg.num_classes
        self._mean = torch.tensor(cfg.mean, device=self.device).view(1, 3, 1, 1) * 255
        self._std = torch.tensor(cfg.std, device=self.device).view(1, 3, 1, 1) * 255
        self._session = None
        if self.config.backend == "onnxruntime":
            self._session = self._onnx_session()
        elif self.device.type == "cpu":
            self.model = self.model.to(memory_format=torch.channels_last)  # faster depthwise convs on CPU

    @classmethod
    def from_checkpoint(cls, path: str | Path, config: PredictorConfig | None = None) -> Predictor:
        from m2h_ros.model.checkpoint import load_checkpoint

        return cls(load_checkpoint(path), config)

    def _onnx_session(self):
        from m2h_ros.inference.onnx_export import export_onnx, onnx_session

        self._onnx_dir = tempfile.TemporaryDirectory(prefix="m2h_onnx_")
        path = export_onnx(self.model.cpu(), Path(self._onnx_dir.name) / "model.onnx", self.config.input_size)
        return onnx_session(path, self.config.threads)

    def _network(self, batch: torch.Tensor) -> Outputs:
        if self._session is not None:
            out = self._session.run(None, {"image": batch.cpu().numpy()})
            return Outputs(*(torch.from_numpy(o) for o in out))
        dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(self.config.dtype)
        with torch.inference_mode(), torch.autocast("cuda", dtype=dtype, enabled=dtype is not None):
            if self.device.type == "cpu":
                batch = batch.contiguous(memory_format=torch.channels_last)
            return Outputs(*(o.float() for o in self.model(batch)))

    def warmup(self) -> None:
        """One prediction on a blank image, so that the first real frame does not pay for the one-off
        work (compiling the upsampling kernel, the allocator's first growth, cuDNN's algorithm search)."""
        self.predict(np.zeros((*self.config.input_size, 3), np.uint8))

    def preprocess(self, rgb: list[np.ndarray]) -> torch.Tensor:
        """(H, W, 3) uint8 RGB images -> the network's normalised input batch (B, 3, h, w) on its device."""
        size = self.config.input_size
        batch = torch.cat([self._resize(torch.from_numpy(im).permute(2, 0, 1)[None], size) for im in rgb])
        return (batch.to(self.device).float() - self._mean) / self._std

    def _resize(self, image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """(1, 3, H, W) uint8 -> (1, 3, h, w) at the network's size, as ``config.resize`` says."""
        if self.config.resize == "bilinear":
            return F.interpolate(image.float(), size=size, mode="bilinear", align_corners=False)
        # Resized as uint8 on the CPU: torch's uint8 path is several times faster than float's (to within
        # one grey level), and on CUDA a network-size upload is smaller than a full-size one.
        shrink = image.shape[2] > size[0] or image.shape[3] > size[1]
        return F.interpolate(image, size=size, mode="bilinear", align_corners=False, antialias=shrink)

    @property
    def needs_focal(self) -> bool:
        """Whether metric depth needs each image's focal length (a canonical-camera network)."""
        return self.model.config.needs_focal

    def predict(self, image: np.ndarray, focal_px: float | None = None) -> Prediction:
        """One (H, W[, C]) uint8 image -> :class:`Prediction` at (H, W); ``focal_px``: its camera's
        horizontal focal length in pixels (see :meth:`predict_batch`)."""
        return self.predict_batch([image], None if focal_px is None else [focal_px])[0]

    def predict_batch(self, images: list[np.ndarray], focal_px: list[float] | None = None) -> list[Prediction]:
        """Several images (any sizes) in one network call. ``focal_px``: each image's horizontal focal
        length in pixels at its own size; a canonical-camera network (:attr:`needs_focal`) scales its
        depth by it, and without it gives the depth its canonical camera would see at the network's size."""
        t0 = time.perf_counter()
        rgb = [as_rgb(im) for im in images]
        batch = self.preprocess(rgb)
        t1 = time.perf_counter()
        out = self._network(batch)
        t2 = time.perf_counter()
        canonical = self.model.config.depth_focal_px
        width = self.config.input_size[1]
        seen = [canonical] * len(rgb) if focal_px is None else [
            f * width / im.shape[1] for f, im in zip(focal_px, rgb, strict=True)]  # fmt: skip
        with torch.inference_mode():
            depth = metric_depth(out.depth, torch.tensor(seen), canonical)
            dense = torch.cat([depth, out.normals, torch.sigmoid(out.edges)], 1)
            dense = dense.permute(0, 2, 3, 1).contiguous().cpu().numpy()
            if self.device.type == "cuda":
                labels = out.semseg.argmax(1).to(torch.int16).cpu().numpy()
            else:  # torch's CPU argmax over channels is several times slower than this kernel
                labels = np.stack([channel_argmax(s) for s in out.semseg.permute(0, 2, 3, 1).numpy()])
        results = []
        for i, im in enumerate(rgb):
            labels_i = labels[i] + np.int16(self._label_offset)
            depth, normals, edges, label_map = upsample_outputs(dense[i], labels_i, im.shape[:2])
            results.append(Prediction(depth=depth, labels=label_map, normals=normals, edges=edges))
        t3 = time.perf_counter()
        timings = {"preprocess": (t1 - t0) * 1e3, "network": (t2 - t1) * 1e3, "postprocess": (t3 - t2) * 1e3}
        for r in results:
            r.timings_ms = dict(timings)
        return results
