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
    kinds = {"object": space.object_labels, "structure": space.structure_labels, "dynamic": space.dynamic_labels,
             "invalid": space.invalid_labels}  # fmt: skip
    for i, (name, color) in enumerate(zip(space.names, space.colors)):
        kind = next((k for k, ids in kinds.items() if i in ids), "-")
        print(f"{i:3d}  {name:20s} {kind:10s} #{color[0]:02x}{color[1]:02x}{color[2]:02x}")
    return 0


def _convert(args: argparse.Namespace) -> int:
    import torch

    from m2h_ros.model.checkpoint import convert_authors_checkpoint, load_checkpoint, read_header, save_checkpoint

    if args.src.suffix == ".safetensors":  # one of ours: keep its header, change the storage type
        header = read_header(args.src)
        model, training_data, metrics = load_checkpoint(args.src), header["training_data"], header["metrics"]
    else:
        model, training_data, metrics = convert_authors_checkpoint(args.src, args.variant), {}, {}
        training_data["converted_from"] = args.src.name
    dtype = torch.float16 if args.fp16 else None
    save_checkpoint(model, args.out, training_data=training_data, metrics=metrics, dtype=dtype)
    print(f"{args.src} -> {args.out} ({sum(p.numel() for p in model.parameters()):,} parameters, "
          f"{model.config.variant}{', float16' if args.fp16 else ''}, {args.out.stat().st_size / 1e6:.1f} MB)")  # fmt: skip
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


def _synth_config(args: argparse.Namespace):
    from m2h_ros.synth.generate import SynthConfig
    from m2h_ros.synth.randomize import Randomization

    return SynthConfig(width=args.size[0], height=args.size[1], frames_per_scene=args.frames, noise=args.noise,
                       randomization=Randomization() if args.randomize else None)  # fmt: skip


def _synth_dataset(args: argparse.Namespace) -> int:
    import dataclasses
    import json

    from m2h_ros.synth.generate import generate_dataset, render_scene
    from m2h_ros.synth.writers import contact_sheet

    config = _synth_config(args)
    seeds = list(range(args.first_seed, args.first_seed + args.scenes))
    summary = generate_dataset(args.out, seeds, config, args.workers, args.val_fraction, args.test_fraction)
    _, frames = render_scene(seeds[0], dataclasses.replace(config, frames_per_scene=16))
    sheet = contact_sheet(frames[::4], args.out / "contact_sheet.png")  # four views spread along the walk
    print(json.dumps(summary, indent=2))
    print(f"dataset: {args.out}  (contact sheet: {sheet})")
    return 0


def _synth_bag(args: argparse.Namespace) -> int:
    import time

    from m2h_ros.synth.generate import render_scene
    from m2h_ros.synth.writers import contact_sheet, write_bag

    if args.out.exists():
        raise CliError(f"{args.out} exists; choose a new bag directory")
    start = time.perf_counter()
    config = _synth_config(args)
    scene, frames = render_scene(args.seed, config, progress=True)
    write_bag(args.out, frames, scene.ground_truth(args.seed), args.rate, args.storage)
    sheet = contact_sheet(
        frames[:: max(1, len(frames) // 4)][:4], args.out.with_name(args.out.name + "_contact_sheet.png")
    )
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(f"bag: {args.out} ({args.storage}, {len(frames)} frames at {args.rate} Hz, {size / 1e6:.1f} MB, "
          f"{time.perf_counter() - start:.0f} s)  scene: {args.out / 'scene.json'}  contact sheet: {sheet}")  # fmt: skip
    return 0


def _predict(args: argparse.Namespace) -> int:
    import numpy as np
    from PIL import Image

    from m2h_ros.eval.report import SheetRow, contact_sheet, prediction_summary
    from m2h_ros.inference.predictor import Predictor, PredictorConfig
    from m2h_ros.labels import get_label_space
    from m2h_ros.weights import BUNDLED_WEIGHTS

    predictor = Predictor.from_checkpoint(args.weights or BUNDLED_WEIGHTS,
                                          PredictorConfig(device=args.device, input_size=tuple(args.input_size)))  # fmt: skip
    space = get_label_space(predictor.label_space)
    rows = []
    for path in args.images:
        try:
            image = Image.open(path).convert("RGB")
        except OSError as e:  # Pillow's UnidentifiedImageError included
            raise CliError(f"{path}: not a readable image ({e})") from None
        image = image.resize((args.width, round(image.height * args.width / image.width)), Image.Resampling.BICUBIC)
        p = predictor.predict(np.asarray(image))
        rows.append(SheetRow(np.asarray(image), p.depth, p.labels, p.normals, p.edges))
        print(f"{path}: {prediction_summary(p.depth, p.labels, space)}")
    print(f"contact sheet (RGB | depth | semantics | normals | edges): {contact_sheet(rows, space, args.out)}")
    return 0


def _train(args: argparse.Namespace) -> int:
    import json

    from m2h_ros.config import load
    from m2h_ros.train.trainer import TrainConfig, train

    cfg = load(TrainConfig, args.config)
    for key in ("out_dir", "iterations"):
        if getattr(args, key) is not None:
            setattr(cfg, key, getattr(args, key))
    cfg.resume = cfg.resume or args.resume
    result = train(cfg)
    print(json.dumps(result, indent=2))
    return 0


def _eval(args: argparse.Namespace) -> int:
    import json

    from m2h_ros.eval.evaluate import eval_dataset, evaluate, format_metrics
    from m2h_ros.eval.metrics import delta_m
    from m2h_ros.inference.predictor import resolve_device
    from m2h_ros.model.checkpoint import load_checkpoint

    device = resolve_device(args.device)
    model = load_checkpoint(args.weights, map_location=device)
    dataset = eval_dataset(model, args.data, args.split, args.file_label_space)
    metrics = evaluate(model, dataset, device, args.batch_size)
    result = {"command": args.command_line, "weights": str(args.weights), "data": str(args.data),
              "split": args.split, "frames": len(dataset), **metrics}  # fmt: skip
    print(f"{args.weights} on {args.data} ({args.split}, {len(dataset)} frames)")
    print(format_metrics(metrics))
    if args.baseline:
        baseline = json.loads(args.baseline.read_text())
        result["delta_m"] = delta_m(metrics, baseline)
        print(f"Δm vs {args.baseline}: {result['delta_m']:+.2f}%")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
        print(f"metrics: {args.json}")
    return 0


def _bag_eval(args: argparse.Namespace) -> int:
    from m2h_ros.eval.report import headline
    from m2h_ros.ros.bag_eval import BagError, BagEvalConfig, evaluate_bag

    cfg = BagEvalConfig(rate=args.rate, config=args.config, weights=args.weights, device=args.device)
    out = args.out or Path("out") / f"eval_{args.bag.name}"
    try:
        report = evaluate_bag(args.bag, out, cfg)
    except BagError as e:
        raise CliError(str(e)) from None
    print(headline(report))
    print(f"report: {out / 'report.md'} (figures and report.json beside it)")
    return 0 if report["timing"]["frames_answered"] else 2


def _run(args: argparse.Namespace) -> int:
    from m2h_ros.config import default_config
    from m2h_ros.ros.perception_node import PerceptionNode
    from m2h_ros.ros.runner import run_nodes
    from m2h_ros.ros.scene_graph_node import SceneGraphNode

    config = args.config or default_config("perception.yaml")
    if not config.is_file():
        raise CliError(f"configuration file {config} does not exist")
    ros_args = ["--ros-args", "--params-file", str(config), "-r", f"__ns:={args.namespace}"]
    ros_args += ["-r", f"image:={args.image}", "-r", f"camera_info:={args.camera_info}", "-r", f"pose:={args.pose}"]
    if args.weights:
        ros_args += ["-p", f"weights:={args.weights}"]
    if args.device:
        ros_args += ["-p", f"device:={args.device}"]
    run_nodes([PerceptionNode, SceneGraphNode] if args.scene_graph else [PerceptionNode], ["m2h", *ros_args])
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse with the command's one-line error format (its sub-command parsers are of this class too)."""

    def error(self, message: str):
        command = self.prog.removeprefix("m2h").strip()
        self.exit(2, f"m2h: error: {command + ': ' if command else ''}{message}\n")


def _at_least(minimum: float, kind: type = int):
    """An argparse type: a number of ``kind`` that is >= ``minimum``."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {text}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    from m2h_ros.labels import LABEL_SPACES
    from m2h_ros.weights import BUNDLED_INPUT_SIZE

    parser = _Parser(prog="m2h", description="Monocular spatial perception for ROS 2.")
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

    conv = commands.add_parser(
        "convert", help="convert the authors' M2H .pt state dict (or a checkpoint) to a checkpoint"
    )
    conv.add_argument("src", type=Path, help="the authors' .pt file (read with weights_only=True) or a .safetensors")
    conv.add_argument("out", type=Path, help="output .safetensors")
    conv.add_argument("--variant", default="m2h", choices=list(VARIANTS), help="variant of an authors' .pt")
    conv.add_argument("--fp16", action="store_true", help="store float16 (half the size; loads as float32)")
    conv.set_defaults(func=_convert)
    onnx = commands.add_parser("export-onnx", help="export a checkpoint to ONNX and check it against torch")
    onnx.add_argument("weights", type=Path)
    onnx.add_argument("out", type=Path)
    onnx.add_argument("--size", type=_at_least(14), nargs=2, default=[224, 224], metavar=("H", "W"))
    onnx.set_defaults(func=_export_onnx)
    info = commands.add_parser("info", help="print a checkpoint's header (config, label space, metrics)")
    info.add_argument("weights", type=Path)
    info.set_defaults(func=_info)

    tr = commands.add_parser(
        "train", help="train a network (multi-GPU: torchrun --nproc_per_node N -m m2h_ros.cli train)"
    )
    tr.add_argument(
        "--config", type=Path, required=True, help="training YAML (see config/train/m2h_lite_synthetic.yaml)"
    )
    tr.add_argument("--out-dir", type=Path, help="run directory (overrides out_dir)")
    tr.add_argument("--iterations", type=_at_least(1), help="overrides iterations")
    tr.add_argument("--resume", action="store_true", help="continue from the run directory's last checkpoint")
    tr.set_defaults(func=_train)
    ev = commands.add_parser("eval", help="pooled multi-task metrics of a checkpoint on a dataset split")
    ev.add_argument("--weights", type=Path, required=True)
    ev.add_argument("--data", type=Path, required=True, help="dataset root in the NYUDv2 multi-task layout")
    ev.add_argument("--split", default="val")
    ev.add_argument(
        "--file-label-space",
        default="nyu40",
        choices=list(LABEL_SPACES),
        help="label space of the ids in segmentation/*.png",
    )
    ev.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ev.add_argument("--batch-size", type=_at_least(1), default=4)
    ev.add_argument("--json", type=Path, help="write the metrics here")
    ev.add_argument("--baseline", type=Path, help="metrics JSON of a baseline: also print Δm")
    ev.set_defaults(func=_eval)

    pr = commands.add_parser("predict", help="run a checkpoint on image files and draw its outputs")
    pr.add_argument("images", type=Path, nargs="+", help="image files (any format Pillow reads)")
    pr.add_argument("--weights", type=Path, help="checkpoint (default: the bundled weights)")
    pr.add_argument("--out", type=Path, default=Path("predictions.png"), help="the contact sheet to write")
    pr.add_argument("--input-size", type=_at_least(14), nargs=2, default=list(BUNDLED_INPUT_SIZE), metavar=("H", "W"),
                    help="the size the network runs at (default: the bundled weights')")  # fmt: skip
    pr.add_argument("--width", type=_at_least(16), default=320, help="width of each row's pictures")
    pr.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    pr.set_defaults(func=_predict)

    run = commands.add_parser("run", help="start the perception (and scene-graph) node as the launch file does")
    run.add_argument("--config", type=Path, help="ROS parameter file (default: config/perception.yaml)")
    run.add_argument("--weights", type=Path, help="checkpoint (default: as in the config, else the bundled weights)")
    run.add_argument("--device", choices=["auto", "cpu", "cuda"])
    run.add_argument("--image", default="/camera/color/image_raw", help="input image topic")
    run.add_argument("--camera-info", default="/camera/color/camera_info", help="input camera_info topic")
    run.add_argument("--namespace", default="/m2h", help="namespace of the outputs (default: /m2h)")
    run.add_argument("--scene-graph", action="store_true", help="also start the scene-graph node")
    run.add_argument("--pose", default="/camera/pose", help="camera PoseStamped topic for the scene-graph node")
    run.set_defaults(func=_run)

    bags = commands.add_parser("bag", help="rosbag2 tools")
    bag_cmds = bags.add_subparsers(dest="bag_command", required=True, metavar="ACTION")
    be = bag_cmds.add_parser("eval", help="replay a bag through the nodes and compare with its ground truth")
    be.add_argument("bag", type=Path, help="rosbag2 directory (MCAP or sqlite3)")
    be.add_argument("--out", type=Path, help="report directory (default: out/eval_<bag name>)")
    be.add_argument("--config", type=Path, help="node parameter file (default: config/perception.yaml)")
    be.add_argument("--weights", type=Path, help="checkpoint (default: the bundled weights)")
    be.add_argument("--device", choices=["auto", "cpu", "cuda"])
    be.add_argument(
        "--rate",
        type=_at_least(0.0, float),
        default=0.0,
        help="multiple of the recorded rate; 0 (default): each frame once the previous one is answered",
    )
    be.set_defaults(func=_bag_eval)

    synth = commands.add_parser("synth", help="procedural homes with exact ground truth")
    synth_cmds = synth.add_subparsers(dest="synth_command", required=True, metavar="ACTION")
    ds = synth_cmds.add_parser("dataset", help="a dataset in the NYUDv2 multi-task layout, split by scene")
    ds.add_argument("out", type=Path)
    ds.add_argument("--scenes", type=_at_least(1), default=4)
    ds.add_argument("--first-seed", type=int, default=0)
    ds.add_argument("--workers", type=_at_least(1), default=2)
    ds.add_argument("--val-fraction", type=float, default=0.25, help="share of the scenes in the val split")
    ds.add_argument("--test-fraction", type=float, default=0.0, help="share of the scenes in the test split (the last)")
    bag = synth_cmds.add_parser("bag", help="a rosbag2 of one home with ground-truth topics and scene.json")
    bag.add_argument("out", type=Path)
    bag.add_argument("--seed", type=int, default=0)
    bag.add_argument("--rate", type=_at_least(0.1, float), default=10.0, help="frames per second of bag time")
    bag.add_argument("--storage", choices=["mcap", "sqlite3"], default="mcap")
    for p, frames in ((ds, 30), (bag, 60)):
        p.add_argument("--frames", type=_at_least(1), default=frames, help="frames per scene")
        p.add_argument("--size", type=_at_least(16), nargs=2, default=[320, 240], metavar=("W", "H"))
        p.add_argument("--noise", type=_at_least(0.0, float), default=0.0, help="sensor noise σ baked into RGB")
        p.add_argument("--randomize", action="store_true",
                       help="domain randomisation: camera field of view, height and pitch, materials, lights, "
                            "exposure, white balance, noise, blur, JPEG (m2h_ros/synth/randomize.py)")  # fmt: skip
    ds.set_defaults(func=_synth_dataset)
    bag.set_defaults(func=_synth_bag)
    return parser


def main(argv: list[str] | None = None) -> int:
    from m2h_ros.config import ConfigError

    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    args.command_line = " ".join(["m2h", *argv])  # saved with results, so that they say what made them
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
