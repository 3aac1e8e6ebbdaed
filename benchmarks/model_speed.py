"""Speed, compute and memory of the model variants, per resolution and backend, on this machine.

Each configuration is timed in its own subprocess, so that its peak memory (max RSS) is inference's
alone: ONNX models are exported by another subprocess first, and parameters and MACs are counted on
the meta device. Prints a markdown table and writes ``<out>.json`` (rows, summary and the command that
made them) and ``<out>.md``. Ratios between variants are measured in the same run.

    python benchmarks/model_speed.py                  # every variant at 224×224 and the node's 224×298, the full ones at 448×576
    python benchmarks/model_speed.py --quick          # 224×224 only, fewer repetitions
    python benchmarks/model_speed.py --variants m2h_lite m2h_lite2 m2h_lite_vit m2h --sizes 224x298 --out model_speed_node
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from provenance import RESULTS, machine, save

# (variant, height, width): 224×224 for every variant, the perception node's 224×298 for the CPU variants
# and the full one, the NYUDv2 evaluation size for the full models.
CONFIGS = [
    *((v, 224, 224) for v in ("m2h_lite", "m2h_lite2", "m2h_lite_vit", "m2h_small", "mtmamba", "m2h")),
    *((v, 224, 298) for v in ("m2h_lite", "m2h_lite2", "m2h_lite_vit", "m2h")),
    ("m2h_small", 448, 576),
    ("m2h", 448, 576),
]
NODE_SIZE = (224, 298)
BACKENDS = ("torch", "onnxruntime")
FULL_SIZE = {"m2h", "m2h_small", "mtmamba"}  # seconds per frame on a CPU: fewer repetitions
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


def export(variant: str, height: int, width: int, path: str) -> None:
    """Runs in its own child process: tracing for ONNX takes far more memory than inference."""
    import torch

    from m2h_ros.inference.onnx_export import export_onnx
    from m2h_ros.model.build import build_model

    torch.manual_seed(0)
    export_onnx(build_model(variant, init_backbone=False).eval(), Path(path), (height, width))


def measure(variant: str, height: int, width: int, backend: str, reps: int, threads: int,
            onnx: str | None = None) -> dict:  # fmt: skip
    """Runs in the child process: count, then time one configuration (``onnx``: the exported model)."""
    import torch

    from m2h_ros.inference.onnx_export import onnx_session
    from m2h_ros.model.build import build_model
    from m2h_ros.model.flops import count_macs

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    with torch.device("meta"):
        meta = build_model(variant, init_backbone=False).eval()
        params = sum(p.numel() for p in meta.parameters())
        macs = count_macs(meta, torch.empty(1, 3, height, width))
    del meta
    x = torch.randn(1, 3, height, width)
    if backend == "torch":
        model = build_model(variant, init_backbone=False).eval().to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)

        def run():
            with torch.inference_mode():
                model(x)
    else:
        session = onnx_session(Path(onnx), threads)
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
        "params": params,
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
        size = f"{r['input'][0]}×{r['input'][1]}"
        if "error" in r:
            lines.append(f"| {r['variant']} | {size} | {r['backend']} | {r['error']} | | | | |")
            continue
        lines.append(
            f"| {r['variant']} | {size} | {r['backend']} | {r['params'] / 1e6:.2f} | "
            f"{r['gmac']} | {r['median_ms']} | {r['fps']} | {r['peak_rss_mb']} |"
        )
    return "\n".join(lines)


def _child(args: list[str]) -> tuple[str | None, str]:
    """Run this script with ``args`` in a fresh process: (its last stdout line or None, why it failed)."""
    run = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if run.returncode != 0:
        print(run.stderr[-2000:], file=sys.stderr)
        killed = run.returncode < 0  # a signal: on Linux most often the kernel's out-of-memory killer
        last = (run.stderr.strip().splitlines() or [""])[-1]
        return None, f"killed by signal {-run.returncode}" if killed else f"exit {run.returncode}: {last[:120]}"
    return (run.stdout.strip().splitlines() or [""])[-1], ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="224×224 only and 3 repetitions")
    parser.add_argument("--variants", nargs="+", help="only these variants")
    parser.add_argument("--sizes", nargs="+", help="only these input sizes, as HxW (e.g. 224x298)")
    parser.add_argument("--reps", type=int, default=None, help="timed runs (default 10; 3 for full-size variants)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default="model_speed", help="result name under benchmarks/results/")
    parser.add_argument("--one", nargs=4, metavar=("VARIANT", "H", "W", "BACKEND"), help=argparse.SUPPRESS)
    parser.add_argument("--onnx", help=argparse.SUPPRESS)
    parser.add_argument("--export", nargs=4, metavar=("VARIANT", "H", "W", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.export:
        variant, h, w, path = args.export
        export(variant, int(h), int(w), path)
        return 0
    if args.one:
        variant, h, w, backend = args.one
        reps = args.reps or (3 if variant in FULL_SIZE else 10)
        print(json.dumps(measure(variant, int(h), int(w), backend, reps, args.threads, args.onnx)))
        return 0

    started = machine()
    sizes = {tuple(int(v) for v in s.split("x")) for s in args.sizes} if args.sizes else None
    configs = [c for c in CONFIGS if (not args.quick or c[1:] == (224, 224)) and (not args.variants or c[0] in
               args.variants) and (not sizes or c[1:] in sizes)]  # fmt: skip
    rows = []
    with tempfile.TemporaryDirectory(prefix="m2h_bench_") as tmp:
        for variant, h, w in configs:
            for backend in ("torch",) if variant in TORCH_ONLY else BACKENDS:
                print(f"-- {variant} {h}×{w} {backend}", file=sys.stderr, flush=True)
                cmd = ["--one", variant, str(h), str(w), backend, "--threads", str(args.threads)]
                failed = {"variant": variant, "input": [h, w], "backend": backend}
                if backend == "onnxruntime":
                    onnx = str(Path(tmp) / f"{variant}_{h}x{w}.onnx")
                    if (why := _child(["--export", variant, str(h), str(w), onnx])[1]) != "":
                        rows.append(failed | {"error": f"ONNX export failed ({why})"})
                        continue
                    cmd += ["--onnx", onnx]
                if args.reps or args.quick:
                    cmd += ["--reps", str(args.reps or 3)]
                line, why = _child(cmd)
                rows.append(json.loads(line) if line is not None else failed | {"error": f"failed ({why})"})

    best = {}
    for r in (r for r in rows if "error" not in r):
        key = (r["variant"], tuple(r["input"]))
        if key not in best or r["median_ms"] < best[key]["median_ms"]:
            best[key] = r
    summary = {}
    for size in sorted({tuple(r["input"]) for r in rows}):
        tag = f"{size[0]}x{size[1]}"
        lite = best.get(("m2h_lite", size))
        for other in ("m2h_lite_vit", "m2h_lite2", "m2h"):
            if lite and (ref := best.get((other, size))):
                summary[f"speedup_m2h_lite_over_{other}_{tag}"] = round(ref["median_ms"] / lite["median_ms"], 2)
        if lite:
            summary[f"m2h_lite_{tag}_fps"], summary[f"m2h_lite_{tag}_backend"] = lite["fps"], lite["backend"]
    result = {"rows": rows, "summary": summary}
    if not args.variants or "mtmamba" in args.variants:
        print("-- selective scan, reference vs chunked", file=sys.stderr, flush=True)
        result["selective_scan"] = scan_speed(threads=args.threads)
    save(args.out, args, result, started)
    table = markdown(rows)
    (RESULTS / f"{args.out}.md").write_text(table + "\n")
    print(table)
    print(json.dumps({k: v for k, v in result.items() if k != "rows"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
