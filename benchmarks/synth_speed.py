"""Synthetic-world generation speed and disk use with 2 worker processes.

Renders datasets of a few scenes at 320×240 and 640×480 (goal: ≥ 5 frames/s at 320×240 with 2
workers) and reports frames/s and kB per frame. Writes benchmarks/results/synth_speed.json.

    python benchmarks/synth_speed.py [--scenes 4] [--frames 20]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile

from provenance import machine, save


def main() -> int:
    from m2h_ros.synth.generate import SynthConfig, generate_dataset, render_scene

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=4)
    parser.add_argument("--frames", type=int, default=20, help="frames per scene")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    started = machine()
    render_scene(0, SynthConfig(width=32, height=24, frames_per_scene=1))  # compile (or load) the kernels first
    rows = []
    for width, height in ((320, 240), (640, 480)):
        with tempfile.TemporaryDirectory() as tmp:
            config = SynthConfig(width=width, height=height, frames_per_scene=args.frames)
            summary = generate_dataset(tmp, list(range(100, 100 + args.scenes)), config, args.workers, progress=False)
        rows.append({"size": [width, height], "workers": args.workers, **summary})
        print(json.dumps(rows[-1]), flush=True)
    save("synth_speed", args, {"rows": rows}, started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
