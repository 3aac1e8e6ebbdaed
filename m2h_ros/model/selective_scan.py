"""Selective scan (Mamba S6) with ``mamba_ssm.selective_scan_fn``'s signature and semantics.

    Δ = softplus(delta + delta_bias)            (if delta_softplus)
    h_t = exp(Δ_t A) ⊙ h_{t-1} + Δ_t B_t u_t    (h_0 = 0; ZOH for A, Euler for B)
    y_t = C_t · h_t + D u_t,  then y_t ⊙ SiLU(z_t) if z is given

Backends (``backend=``):

- ``"cuda"``: mamba_ssm's kernel. Imported only when the inputs are on CUDA and a CUDA backend is
  asked for, never otherwise (mamba_ssm cannot even be imported without CUDA).
- ``"reference"``: the recurrence step by step in PyTorch; exact, slow for long sequences.
- ``"chunked"``: the same recurrence in two levels: every chunk of ``chunk`` steps is scanned from a
  zero state, all chunks at once; then the states entering each chunk are carried across chunks and
  added back, weighted by the chunk-local cumulative decay. Every exponent is a sum of Δ·A ≤ 0, so
  nothing overflows (unlike the exp(-cumsum) trick), and the Python loop runs chunk + L/chunk times
  instead of L.
- ``"auto"``: ``cuda`` for CUDA tensors when mamba_ssm is installed, else ``chunked``.

All internals run in fp32 (fp64 inputs stay fp64); the output has the dtype of ``u``. Autograd works
through the PyTorch backends.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

BACKENDS = ("auto", "cuda", "reference", "chunked")


@functools.cache
def _mamba_ssm_scan():
    """mamba_ssm's selective_scan_fn, or None where it is not installed or unusable."""
    try:
        from mamba_ssm.ops.selective_scan_interface import selective_scan_fn
    except Exception:  # ImportError, or its own missing CUDA extension
        return None
    return selective_scan_fn


def selective_scan(u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor,
                   D: torch.Tensor | None = None, z: torch.Tensor | None = None,
                   delta_bias: torch.Tensor | None = None, delta_softplus: bool = False,
                   return_last_state: bool = False, backend: str = "auto", chunk: int = 64):  # fmt: skip
    """u, delta (batch, dim, L); A (dim, N); B, C (dim, N) | (batch, N, L) | (batch, G, N, L);
    D, delta_bias (dim,); z (batch, dim, L). Returns out (batch, dim, L) [, last state (batch, dim, N)]."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown selective-scan backend {backend!r}; known: {', '.join(BACKENDS)}")
    if backend in ("auto", "cuda") and u.is_cuda:
        fn = _mamba_ssm_scan()
        if fn is not None:
            return fn(u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state)
        if backend == "cuda":
            raise RuntimeError("backend 'cuda' needs mamba_ssm with its CUDA extension (pip install m2h_ros[mamba])")
    elif backend == "cuda":
        raise RuntimeError("backend 'cuda' needs CUDA tensors")
    dtype_in = u.dtype
    work = torch.promote_types(u.dtype, torch.float32)
    u, delta, A = u.to(work), delta.to(work), A.to(work)
    if delta_bias is not None:
        delta = delta + delta_bias.to(work)[:, None]
    if delta_softplus:
        delta = F.softplus(delta)
    Bx, Cx = _per_channel(B.to(work), u.shape[1]), _per_channel(C.to(work), u.shape[1])
    scan = _scan_chunked if backend in ("auto", "chunked") else _scan_reference
    y, last = scan(u, delta, A, Bx, Cx, chunk)
    if D is not None:
        y = y + D.to(work)[:, None] * u
    if z is not None:
        y = y * F.silu(z.to(work))
    y = y.to(dtype_in)
    return (y, last) if return_last_state else y


def _per_channel(M: torch.Tensor, dim: int) -> torch.Tensor:
    """B or C in any of the accepted layouts -> (batch or 1, dim, N, L or 1)."""
    if M.dim() == 2:  # (dim, N): time-invariant
        return M[None, :, :, None]
    if M.dim() == 3:  # (batch, N, L): shared by all channels
        return M[:, None]
    groups = M.shape[1]  # (batch, G, N, L): channel d uses group d // (dim / G)
    return M.repeat_interleave(dim // groups, dim=1)


def _scan_reference(u, delta, A, B, C, chunk):
    b, d, L = u.shape
    n = A.shape[1]
    dA = torch.exp(delta[..., None] * A[:, None, :])  # (b, d, L, N)
    dBu = ((delta * u)[..., None] * B.transpose(2, 3)).expand(b, d, L, n)
    Ct = C.transpose(2, 3).expand(b, d, L, n)
    h = u.new_zeros(b, d, n)
    ys = []
    for t in range(L):
        h = dA[:, :, t] * h + dBu[:, :, t]
        ys.append((h * Ct[:, :, t]).sum(-1))
    return torch.stack(ys, dim=-1), h


def _scan_chunked(u, delta, A, B, C, chunk):
    b, d, L = u.shape
    n = A.shape[1]
    T = max(1, min(chunk, L))
    pad = (-L) % T
    if pad:  # zero Δ: the state passes unchanged, nothing is added
        u, delta = F.pad(u, (0, pad)), F.pad(delta, (0, pad))
        B = F.pad(B, (0, pad)) if B.shape[-1] > 1 else B
        C = F.pad(C, (0, pad)) if C.shape[-1] > 1 else C
    nc = (L + pad) // T
    log_decay = (delta[..., None] * A[:, None, :]).view(b, d, nc, T, n)  # ≤ 0
    dBu = ((delta * u)[..., None] * B.transpose(2, 3)).expand(b, d, L + pad, n).reshape(b, d, nc, T, n)
    decay = torch.exp(log_decay)
    # 1) Every chunk from a zero state, all chunks at once.
    h = u.new_zeros(b, d, nc, n)
    local = []
    for t in range(T):
        h = decay[:, :, :, t] * h + dBu[:, :, :, t]
        local.append(h)
    local = torch.stack(local, dim=3)  # (b, d, nc, T, n)
    # 2) The state entering each chunk, carried across chunks.
    chunk_decay = torch.exp(log_decay.sum(3))  # (b, d, nc, n)
    state = u.new_zeros(b, d, n)
    entering = []
    for c in range(nc):
        entering.append(state)
        state = chunk_decay[:, :, c] * state + local[:, :, c, -1]
    entering = torch.stack(entering, dim=2)  # (b, d, nc, n)
    # 3) Add each entering state, decayed to every step of its chunk.
    h_all = local + torch.exp(torch.cumsum(log_decay, dim=3)) * entering[:, :, :, None]
    Ct = C.transpose(2, 3).expand(b, d, L + pad, n).reshape(b, d, nc, T, n)
    y = (h_all * Ct).sum(-1).reshape(b, d, nc * T)[..., :L]
    return y, state
