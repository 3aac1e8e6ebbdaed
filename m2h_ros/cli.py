"""The ``m2h`` command. Each sub-command parses its arguments here and calls into the library.

Expected failures (bad arguments, missing files, invalid configuration) end with one line on
stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from m2h_ros import __version__


class CliError(Exception):
    """An error the user can fix; printed without a traceback."""


def _labels_export(args: argparse.Namespace) -> int:
    from m2h_ros import labels

    names = list(labels.LABEL_SPACES) if args.space == "all" else [args.space]
    for name in names:
        yaml_path, csv_path = labels.write_hydra_files(labels.get_label_space(name), args.out)
        print(f"{name}: {yaml_path} {csv_path}")
    return 0


def _labels_list(args: argparse.Namespace) -> int:
    from m2h_ros import labels

    space = labels.get_label_space(args.space)
    kinds = {
        "object": space.object_labels,
        "structure": space.structure_labels,
        "dynamic": space.dynamic_labels,
        "invalid": space.invalid_labels,
    }
    for i, (name, color) in enumerate(zip(space.names, space.colors)):
        kind = next((k for k, ids in kinds.items() if i in ids), "-")
        print(f"{i:3d}  {name:20s} {kind:10s} #{color[0]:02x}{color[1]:02x}{color[2]:02x}")
    return 0


def _convert(args: argparse.Namespace) -> int:
    from m2h_ros.model.checkpoint import convert_authors_checkpoint, save_checkpoint

    model = convert_authors_checkpoint(args.src, args.variant)
    save_checkpoint(model, args.out, training_data={"converted_from": args.src.name})
    print(f"{args.src} -> {args.out} ({sum(p.numel() for p in model.parameters()):,} parameters, {args.variant})")
    return 0


def _export_onnx(args: argparse.Namespace) -> int:
    import torch

    from m2h_ros.inference.onnx_export import export_onnx, max_abs_difference
    from m2h_ros.model.checkpoint import load_checkpoint

    model = load_checkpoint(args.weights).eval()
    path = export_onnx(model, args.out, tuple(args.size))
    diff = max_abs_difference(model, path, torch.randn(1, 3, *args.size))
    print(f"{path}: input (1, 3, {args.size[0]}, {args.size[1]}); max |onnx - torch| " + ", ".join(
        f"{k} {v:.1e}" for k, v in diff.items()))  # fmt: skip
    return 0


def _info(args: argparse.Namespace) -> int:
    import json

    from m2h_ros.model.checkpoint import read_header

    print(json.dumps(read_header(args.weights), indent=2))
    return 0


def _synth_dataset(args: argparse.Namespace) -> int:
    import json

    from m2h_ros.synth.generate import SynthConfig, generate_dataset, render_scene
    from m2h_ros.synth.writers import contact_sheet

    config = SynthConfig(width=args.size[0], height=args.size[1], frames_per_scene=args.frames, noise=args.noise)
    seeds = list(range(args.first_seed, args.first_seed + args.scenes))
    summary = generate_dataset(args.out, seeds, config, args.workers, args.val_fraction)
    _, frames = render_scene(seeds[0], SynthConfig(width=config.width, height=config.height, frames_per_scene=16))
    sheet = contact_sheet(frames[::4], args.out / "contact_sheet.png")  # four views spread along the walk
    print(json.dumps(summary, indent=2))
    print(f"dataset: {args.out}  (contact sheet: {sheet})")
    return 0


def _synth_bag(args: argparse.Namespace) -> int:
    import time

    from m2h_ros.synth.generate import SynthConfig, render_scene
    from m2h_ros.synth.writers import contact_sheet, write_bag

    if args.out.exists():
        raise CliError(f"{args.out} exists; choose a new bag directory")
    start = time.perf_counter()
    config = SynthConfig(width=args.size[0], height=args.size[1], frames_per_scene=args.frames, noise=args.noise)
    scene, frames = render_scene(args.seed, config, progress=True)
    write_bag(args.out, frames, scene.ground_truth(args.seed), args.rate, args.storage)
    sheet = contact_sheet(
        frames[:: max(1, len(frames) // 4)][:4], args.out.with_name(args.out.name + "_contact_sheet.png")
    )
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(f"bag: {args.out} ({args.storage}, {len(frames)} frames at {args.rate} Hz, {size / 1e6:.1f} MB, "
          f"{time.perf_counter() - start:.0f} s)  scene: {args.out / 'scene.json'}  contact sheet: {sheet}")  # fmt: skip
    return 0


def default_config(name: str) -> Path:
    """A file of the package's config/ folder: the source tree's, else the installed share directory."""
    here = Path(__file__).resolve().parents[1] / "config" / name
    if here.is_file():
        return here
    from ament_index_python.packages import get_package_share_directory

    return Path(get_package_share_directory("m2h_ros")) / "config" / name


def _run(args: argparse.Namespace) -> int:
    from m2h_ros.ros.perception_node import PerceptionNode
    from m2h_ros.ros.runner import run_nodes

    config = args.config or default_config("perception.yaml")
    if not config.is_file():
        raise CliError(f"configuration file {config} does not exist")
    ros_args = ["--ros-args", "--params-file", str(config), "-r", f"__ns:={args.namespace}"]
    ros_args += ["-r", f"image:={args.image}", "-r", f"camera_info:={args.camera_info}"]
    if args.weights:
        ros_args += ["-p", f"weights:={args.weights}"]
    if args.device:
        ros_args += ["-p", f"device:={args.device}"]
    run_nodes([PerceptionNode], ["m2h", *ros_args])
    return 0


def build_parser() -> argparse.ArgumentParser:
    from m2h_ros.labels import LABEL_SPACES

    parser = argparse.ArgumentParser(prog="m2h", description="Monocular spatial perception for ROS 2.")
    parser.add_argument("--version", action="version", version=f"m2h_ros {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    lab = commands.add_parser("labels", help="label spaces and Hydra's label files")
    lab_cmds = lab.add_subparsers(dest="labels_command", required=True, metavar="ACTION")
    export = lab_cmds.add_parser("export", help="write Hydra label-space YAML and colour CSV")
    export.add_argument("--space", default="all", choices=[*LABEL_SPACES, "all"])
    export.add_argument("--out", type=Path, default=Path("."), help="output directory (default: .)")
    export.set_defaults(func=_labels_export)
    show = lab_cmds.add_parser("list", help="print the classes of a label space")
    show.add_argument("space", choices=list(LABEL_SPACES))
    show.set_defaults(func=_labels_list)

    from m2h_ros.model.build import VARIANTS

    conv = commands.add_parser("convert", help="convert the authors' M2H .pt state dict to a checkpoint")
    conv.add_argument("src", type=Path, help="the authors' .pt file (read with weights_only=True)")
    conv.add_argument("out", type=Path, help="output .safetensors")
    conv.add_argument("--variant", default="m2h", choices=list(VARIANTS))
    conv.set_defaults(func=_convert)
    onnx = commands.add_parser("export-onnx", help="export a checkpoint to ONNX and check it against torch")
    onnx.add_argument("weights", type=Path)
    onnx.add_argument("out", type=Path)
    onnx.add_argument("--size", type=int, nargs=2, default=[224, 224], metavar=("H", "W"))
    onnx.set_defaults(func=_export_onnx)
    info = commands.add_parser("info", help="print a checkpoint's header (config, label space, metrics)")
    info.add_argument("weights", type=Path)
    info.set_defaults(func=_info)

    run = commands.add_parser("run", help="start the perception node (as the launch file does, without ROS launch)")
    run.add_argument("--config", type=Path, help="ROS parameter file (default: config/perception.yaml)")
    run.add_argument("--weights", type=Path, help="checkpoint (default: as in the config, else the bundled weights)")
    run.add_argument("--device", choices=["auto", "cpu", "cuda"])
    run.add_argument("--image", default="/camera/color/image_raw", help="input image topic")
    run.add_argument("--camera-info", default="/camera/color/camera_info", help="input camera_info topic")
    run.add_argument("--namespace", default="/m2h", help="namespace of the outputs (default: /m2h)")
    run.set_defaults(func=_run)

    synth = commands.add_parser("synth", help="procedural homes with exact ground truth")
    synth_cmds = synth.add_subparsers(dest="synth_command", required=True, metavar="ACTION")
    ds = synth_cmds.add_parser("dataset", help="a dataset in the NYUDv2 multi-task layout, split by scene")
    ds.add_argument("out", type=Path)
    ds.add_argument("--scenes", type=int, default=4)
    ds.add_argument("--first-seed", type=int, default=0)
    ds.add_argument("--workers", type=int, default=2)
    ds.add_argument("--val-fraction", type=float, default=0.25)
    bag = synth_cmds.add_parser("bag", help="a rosbag2 of one home with ground-truth topics and scene.json")
    bag.add_argument("out", type=Path)
    bag.add_argument("--seed", type=int, default=0)
    bag.add_argument("--rate", type=float, default=10.0, help="frames per second of bag time")
    bag.add_argument("--storage", choices=["mcap", "sqlite3"], default="mcap")
    for p, frames in ((ds, 30), (bag, 60)):
        p.add_argument("--frames", type=int, default=frames, help="frames per scene")
        p.add_argument("--size", type=int, nargs=2, default=[320, 240], metavar=("W", "H"))
        p.add_argument("--noise", type=float, default=0.0, help="sensor noise σ baked into RGB")
    ds.set_defaults(func=_synth_dataset)
    bag.set_defaults(func=_synth_bag)
    return parser


def main(argv: list[str] | None = None) -> int:
    from m2h_ros.config import ConfigError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (CliError, ConfigError, OSError, KeyError, ValueError) as e:  # CheckpointError is a ValueError
        message = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"m2h: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("m2h: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
