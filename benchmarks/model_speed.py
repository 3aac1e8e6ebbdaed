"""Speed, compute and memory of every model variant, per resolution and backend, on this machine.

Each configuration runs in its own subprocess so that its peak memory (max RSS) is its own. Prints a
markdown table, and writes benchmarks/results/model_speed.json and model_speed.md (the README shows
the table). Ratios between variants are measured in the same run.

    python benchmarks/model_speed.py                  # all configurations
    python benchmarks/model_speed.py --quick          # 224×224 only, fewer repetitions
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"

# (variant, height, width): 224×224 for every variant, the NYUDv2 evaluation size for the full models.
CONFIGS = [
    ("m2h_lite", 224, 224),
    ("m2h_small", 224, 224),
    ("mtmamba", 224, 224),
    ("m2h", 224, 224),
    ("m2h_small", 448, 576),
    ("m2h", 448, 576),
]
BACKENDS = ("torch", "onnxruntime")
# The MTMamba decoder's selective scan unrolls into a very large ONNX graph; it runs on torch only.
TORCH_ONLY = {"mtmamba"}


def scan_speed(length: int = 4096, dim: int = 384, d_state: int = 16, threads: int = 2) -> dict:
    """The chunked selective scan against the sequential reference, side by side, at SS2D-like sizes."""
    import torch

    from m2h_ros.model.selective_scan import selective_scan

    torch.set_num_threads(threads)
    g = torch.Generator().manual_seed(0)
    u, delta = torch.randn(1, dim, length, generator=g), torch.randn(1, dim, length, generator=g) * 0.5
    A = -torch.arange(1, d_state + 1, dtype=torch.float32).repeat(dim, 1)
    B, C = torch.randn(1, 4, d_state, length, generator=g), torch.randn(1, 4, d_state, length, generator=g)
    D, bias = torch.ones(dim), torch.full((dim,), -3.0)
    times, outs = {}, {}
    for backend in ("reference", "chunked"):
        runs = []
        for _ in range(3):
            t = time.perf_counter()
            with torch.no_grad():
                outs[backend] = selective_scan(u, delta, A, B, C, D, delta_bias=bias, delta_softplus=True,
                                               backend=backend)  # fmt: skip
            runs.append(time.perf_counter() - t)
        times[backend] = statistics.median(runs)
    return {
        "length": length, "channels": dim, "d_state": d_state,
        "reference_ms": round(times["reference"] * 1e3, 1), "chunked_ms": round(times["chunked"] * 1e3, 1),
        "speedup": round(times["reference"] / times["chunked"], 1),
        "max_abs_difference": float((outs["reference"] - outs["chunked"]).abs().max()),
    }  # fmt: skip


def measure(variant: str, height: int, width: int, backend: str, reps: int, threads: int) -> dict:
    """Runs in the child process: build, count, time one configuration."""
    import torch

    from m2h_ros.inference.onnx_export import export_onnx, onnx_session
    from m2h_ros.model.build import build_model
    from m2h_ros.model.flops import count_macs

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = build_model(variant).eval()
    with torch.device("meta"):
        macs = count_macs(build_model(variant).eval(), torch.empty(1, 3, height, width))
    x = torch.randn(1, 3, height, width)
    if backend == "torch":
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)

        def run():
            with torch.inference_mode():
                model(x)
    else:
        import tempfile

        tmp = tempfile.mkdtemp(prefix="m2h_bench_")
        path = export_onnx(model, Path(tmp) / "model.onnx", (height, width))
        del model
        session = onnx_session(path, threads)
        feed = {"image": x.numpy()}

        def run():
            session.run(None, feed)

    run()  # warm-up: allocations, kernel selection
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        run()
        times.append(time.perf_counter() - t)
    median = statistics.median(times)
    return {
        "variant": variant,
        "input": [height, width],
        "backend": backend,
        "params": sum(p.numel() for p in build_model(variant).parameters()),
        "gmac": round(macs / 1e9, 2),
        "median_ms": round(median * 1e3, 1),
        "fps": round(1.0 / median, 2),
        "reps": reps,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def markdown(rows: list[dict]) -> str:
    lines = [
        "| variant | input | backend | params (M) | GMAC | median latency (ms) | frames/s | peak RSS (MB) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['variant']} | {r['input'][0]}×{r['input'][1]} | {r['backend']} | {r['params'] / 1e6:.2f} | "
            f"{r['gmac']} | {r['median_ms']} | {r['fps']} | {r['peak_rss_mb']} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="224×224 only and 3 repetitions")
    parser.add_argument("--reps", type=int, default=None, help="timed repetitions (default 10; 3 for m2h)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--one", nargs=4, metavar=("VARIANT", "H", "W", "BACKEND"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.one:
        variant, h, w, backend = args.one
        reps = args.reps or (3 if variant == "m2h" else 10)
        print(json.dumps(measure(variant, int(h), int(w), backend, reps, args.threads)))
        return 0

    configs = [c for c in CONFIGS if not args.quick or c[1:] == (224, 224)]
    rows = []
    for variant, h, w in configs:
        for backend in ("torch",) if variant in TORCH_ONLY else BACKENDS:
            cmd = [sys.executable, __file__, "--one", variant, str(h), str(w), backend, "--threads", str(args.threads)]
            if args.reps or args.quick:
                cmd += ["--reps", str(args.reps or 3)]
            print(f"-- {variant} {h}×{w} {backend}", file=sys.stderr, flush=True)
            run = subprocess.run(cmd, capture_output=True, text=True)
            if run.returncode != 0:
                print(run.stderr[-2000:], file=sys.stderr)
                return 1
            rows.append(json.loads(run.stdout.strip().splitlines()[-1]))

    best = {}
    for r in rows:
        key = (r["variant"], tuple(r["input"]))
        if key not in best or r["median_ms"] < best[key]["median_ms"]:
            best[key] = r
    summary = {}
    lite, full = best.get(("m2h_lite", (224, 224))), best.get(("m2h", (224, 224)))
    if lite and full:
        summary = {
            "m2h_lite_224_best_backend": lite["backend"],
            "m2h_lite_224_fps": lite["fps"],
            "m2h_224_best_ms": full["median_ms"],
            "speedup_m2h_lite_over_m2h_224": round(full["median_ms"] / lite["median_ms"], 1),
        }
    print("-- selective scan, reference vs chunked", file=sys.stderr, flush=True)
    scan = scan_speed(threads=args.threads)
    result = {
        "machine": {"cpu": platform.processor() or platform.machine(), "threads": args.threads},
        "rows": rows,
        "summary": summary,
        "selective_scan": scan,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "model_speed.json").write_text(json.dumps(result, indent=2) + "\n")
    table = markdown(rows)
    (RESULTS / "model_speed.md").write_text(table + "\n")
    print(table)
    print(json.dumps(summary | {"selective_scan": scan}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
