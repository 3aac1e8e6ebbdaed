"""Selective scan backends, SS2D and the MTMamba decoder."""

import pytest
import torch

from m2h_ros.model.mtmamba import MTMambaDecoder
from m2h_ros.model.selective_scan import selective_scan
from m2h_ros.model.ss2d import cross_merge, cross_scan

NYUD = {"semseg": 40, "depth": 1, "normals": 3, "edges": 1}


def scan_inputs(L, batch=2, groups=4, per_group=6, n=16, dtype=torch.float64, seed=0):
    """SS2D-like inputs: A = -(1..N), Δ bias as initialised, grouped B/C."""
    g = torch.Generator().manual_seed(seed)
    d = groups * per_group
    u = torch.randn(batch, d, L, generator=g, dtype=dtype)
    delta = torch.randn(batch, d, L, generator=g, dtype=dtype) * 0.5
    A = -torch.arange(1, n + 1, dtype=dtype).repeat(d, 1)
    B = torch.randn(batch, groups, n, L, generator=g, dtype=dtype)
    C = torch.randn(batch, groups, n, L, generator=g, dtype=dtype)
    D = torch.rand(d, generator=g, dtype=dtype)
    z = torch.randn(batch, d, L, generator=g, dtype=dtype)
    bias = torch.log(torch.expm1(torch.rand(d, generator=g, dtype=dtype) * 0.099 + 0.001))
    return u, delta, A, B, C, D, z, bias


def fp64_truth(u, delta, A, B, C, D, z, bias):
    """The recurrence written out independently, in float64."""
    dt = torch.nn.functional.softplus(delta + bias[:, None])
    groups = B.shape[1]
    Bc = B.repeat_interleave(u.shape[1] // groups, 1)
    Cc = C.repeat_interleave(u.shape[1] // groups, 1)
    h = torch.zeros(u.shape[0], u.shape[1], A.shape[1], dtype=torch.float64)
    ys = []
    for t in range(u.shape[-1]):
        h = torch.exp(dt[..., t, None] * A) * h + (dt[..., t] * u[..., t])[..., None] * Bc[..., t]
        ys.append((h * Cc[..., t]).sum(-1) + D * u[..., t])
    y = torch.stack(ys, -1)
    return y * torch.nn.functional.silu(z), h


@pytest.mark.parametrize("L", [1, 37, 130, 257])
def test_chunked_matches_reference_and_fp64_forward_and_gradients(L):
    args64 = scan_inputs(L)
    truth, truth_state = fp64_truth(*args64)
    outs, grads = {}, {}
    for backend in ("reference", "chunked"):
        u, delta, A, B, C, D, z, bias = (a.float().clone().requires_grad_() for a in args64)
        y, state = selective_scan(u, delta, A, B, C, D, z, bias, delta_softplus=True, return_last_state=True,
                                  backend=backend, chunk=16)  # fmt: skip
        assert y.dtype == torch.float32 and y.shape == u.shape and state.shape == (2, 24, 16)
        assert (y.double() - truth).abs().max() <= 1e-4 * truth.abs().max()
        assert (state.double() - truth_state).abs().max() <= 1e-4 * truth_state.abs().max()
        (y * torch.linspace(-1, 1, L)).sum().backward()
        outs[backend] = y.detach()
        grads[backend] = [a.grad for a in (u, delta, A, B, C, D, z, bias)]
    assert (outs["reference"] - outs["chunked"]).abs().max() <= 1e-5
    for gr, gc in zip(grads["reference"], grads["chunked"]):
        assert (gr - gc).abs().max() <= 1e-5 * max(1.0, gr.abs().max().item())


def test_fp64_inputs_stay_fp64_and_match_exactly():
    args = scan_inputs(50)
    truth, _ = fp64_truth(*args)
    u, delta, A, B, C, D, z, bias = args
    for backend in ("reference", "chunked"):
        y = selective_scan(u, delta, A, B, C, D, z, bias, delta_softplus=True, backend=backend, chunk=8)
        assert y.dtype == torch.float64
        assert (y - truth).abs().max() < 1e-10


def test_time_invariant_and_shared_b_c_layouts_agree_with_grouped():
    u, delta, A, B, C, D, _z, bias = scan_inputs(40, groups=1, per_group=8, dtype=torch.float32)
    kw = {"delta_bias": bias, "delta_softplus": True}
    grouped = selective_scan(u, delta, A, B, C, D, backend="reference", **kw)
    shared = selective_scan(u, delta, A, B[:, 0], C[:, 0], D, backend="chunked", chunk=8, **kw)  # (batch, N, L)
    torch.testing.assert_close(shared, grouped, rtol=1e-5, atol=1e-5)
    B0, C0 = B[:1, :, :, :1].expand_as(B), C[:1, :, :, :1].expand_as(C)  # constant in time and batch
    invariant = selective_scan(
        u, delta, A, B0[0, 0, :, 0].repeat(8, 1), C0[0, 0, :, 0].repeat(8, 1), D, backend="chunked", chunk=8, **kw
    )  # (dim, N)
    torch.testing.assert_close(invariant, selective_scan(u, delta, A, B0, C0, D, backend="reference", **kw),
                               rtol=1e-5, atol=1e-5)  # fmt: skip


def test_long_sequences_do_not_overflow():
    """Large Δ·|A| products underflow to zero decay; nothing may become inf or NaN (exp(-cumsum) would)."""
    u, delta, A, B, C, D, _z, _bias = scan_inputs(600, dtype=torch.float32)
    y = selective_scan(u, delta + 8.0, A * 4, B, C, D, backend="chunked", chunk=128)
    assert torch.isfinite(y).all()


def test_cuda_backend_is_refused_clearly_on_cpu():
    u, delta, A, B, C, _D, _z, _bias = scan_inputs(8, dtype=torch.float32)
    with pytest.raises(RuntimeError, match="backend 'cuda' needs CUDA tensors"):
        selective_scan(u, delta, A, B, C, backend="cuda")
    with pytest.raises(ValueError, match="unknown selective-scan backend"):
        selective_scan(u, delta, A, B, C, backend="fast")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU and mamba_ssm (pip install .[mamba])")
def test_against_mamba_ssm_kernel():
    pytest.importorskip("mamba_ssm", reason="mamba_ssm is not installed")
    u, delta, A, B, C, D, z, bias = (a.float().cuda() for a in scan_inputs(1000))
    ours = selective_scan(u, delta, A, B, C, D, z, bias, delta_softplus=True, backend="chunked")
    theirs = selective_scan(u, delta, A, B, C, D, z, bias, delta_softplus=True, backend="cuda")
    torch.testing.assert_close(ours, theirs, rtol=6e-4, atol=2e-3)


def test_cross_scan_and_merge_are_consistent():
    x = torch.randn(2, 3, 5, 7)
    xs = cross_scan(x)
    assert torch.equal(xs[:, 1, :, :5], x[:, :, :, 0])  # column-major: the first column first
    assert torch.equal(xs[:, 2], xs[:, 0].flip(-1))
    assert torch.allclose(cross_merge(xs, 5, 7), 4 * x.flatten(2))


@pytest.mark.parametrize(
    ("outputs", "millions"),
    [(NYUD, 112.80), ({"semseg": 19, "depth": 1}, 57.07),
     ({"semseg": 21, "human_parts": 7, "sal": 2, "normals": 3, "edges": 1}, 140.66)],
)  # fmt: skip
def test_decoder_parameters_match_blueprint_with_swin_l_features(outputs, millions):
    with torch.device("meta"):
        decoder = MTMambaDecoder((192, 384, 768, 1536), outputs)
    assert round(sum(p.numel() for p in decoder.parameters()) / 1e6, 2) == millions


def test_decoder_shapes_on_the_nyud_pyramid(meta_model):
    with torch.device("meta"):
        decoder = MTMambaDecoder((192, 384, 768, 1536), NYUD, scan_backend="chunked")
        feats = [torch.empty(1, c, 112 // 2**i, 144 // 2**i) for i, c in enumerate((192, 384, 768, 1536))]
        out = decoder(feats)
    assert {t: tuple(o.shape) for t, o in out.items()} == {
        "semseg": (1, 40, 448, 576),
        "depth": (1, 1, 448, 576),
        "normals": (1, 3, 448, 576),
        "edges": (1, 1, 448, 576),
    }


def test_mtmamba_variant_through_the_predictor():
    import numpy as np

    from m2h_ros.inference import Predictor, PredictorConfig
    from m2h_ros.model.build import build_model

    torch.manual_seed(0)
    model = build_model("mtmamba", scan_backend="chunked")
    pred = Predictor(model, PredictorConfig(input_size=(56, 70))).predict(np.zeros((45, 61, 3), np.uint8))
    assert pred.depth.shape == (45, 61) and pred.labels.max() < 41 and np.isfinite(pred.normals).all()


def test_counted_macs_add_the_selective_scan_the_flop_counter_cannot_see():
    from torch.utils.flop_counter import FlopCounterMode

    from m2h_ros.model.flops import count_macs
    from m2h_ros.model.ss2d import SS2D

    ss2d = SS2D(d_model=16, d_state=16, ssm_ratio=2).eval()  # d_inner 32, four directions: 128 channels
    x = torch.randn(1, 8, 8, 16)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        ss2d(x)
    scan = (9 * 128 * 64 * 16 + 128 * 64) // 2  # 9 FLOPs per channel, state and step, plus the D skip, halved
    assert ss2d.scan_macs(x) == scan
    assert count_macs(ss2d, x) == counter.get_total_flops() // 2 + scan
