"""ONNX export of any variant at a fixed input size, and its check against torch."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

OUTPUT_NAMES = ("depth", "semseg", "normals", "edges")


def export_onnx(model: nn.Module, path: str | Path, input_size: tuple[int, int], batch: int = 1,
                opset: int = 17) -> Path:  # fmt: skip
    """Write ``model`` for (batch, 3, H, W) float32 normalised input ``image`` to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    dummy = torch.zeros(batch, 3, *input_size)
    model = model.eval()
    # The fused attention kernel has no ONNX form; the unfused path computes the same.
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer warnings about shape-dependent Python ints
            torch.onnx.export(model, (dummy,), str(path), input_names=["image"], output_names=list(OUTPUT_NAMES),
                              opset_version=opset, dynamo=False, verbose=False)  # fmt: skip
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
    return path


def onnx_session(path: str | Path, threads: int = 0):
    """An ONNX Runtime CPU session (``threads=0``: ONNX Runtime's default)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def max_abs_difference(model: nn.Module, path: str | Path, image: torch.Tensor) -> dict[str, float]:
    """Max |torch - ONNX Runtime| per output for one normalised input batch."""
    session = onnx_session(path)
    with torch.no_grad():
        ref = model.eval()(image)
    out = session.run(None, {"image": image.numpy()})
    return {name: float(np.abs(o - r.numpy()).max()) for name, o, r in zip(OUTPUT_NAMES, out, ref)}
