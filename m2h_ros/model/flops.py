"""Counted (not estimated) multiply-accumulates of a forward pass."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def count_macs(model: nn.Module, *inputs: torch.Tensor) -> int:
    """MACs of ``model(*inputs)`` as torch's FLOP counter sees them (FLOPs / 2).

    Multi-head attention's fused CPU fast path is switched off while counting, because the counter
    does not see inside it; the unfused path computes the same products.
    """
    previous = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(*inputs)
    finally:
        torch.backends.mha.set_fastpath_enabled(previous)
    return counter.get_total_flops() // 2
