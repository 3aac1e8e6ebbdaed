"""Counted (not estimated) multiply-accumulates of a forward pass."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def count_macs(model: nn.Module, *inputs: torch.Tensor) -> int:
    """MACs of ``model(*inputs)``: torch's FLOP counter (FLOPs / 2), plus the analytic count of what it
    cannot see, from every submodule with a ``scan_macs(input)`` (SS2D's selective scan).

    Multi-head attention's fused CPU fast path is switched off while counting, because the counter
    does not see inside it; the unfused path computes the same products.
    """
    unseen = [0]
    hooks = [m.register_forward_hook(lambda mod, args, out: unseen.__setitem__(0, unseen[0] + mod.scan_macs(args[0])))
             for m in model.modules() if hasattr(m, "scan_macs")]  # fmt: skip
    previous = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(*inputs)
    finally:
        torch.backends.mha.set_fastpath_enabled(previous)
        for hook in hooks:
            hook.remove()
    return counter.get_total_flops() // 2 + unseen[0]
