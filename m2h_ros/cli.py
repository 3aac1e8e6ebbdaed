"""The ``m2h`` command: its argument parser, and the one place that reports errors. The sub-commands
themselves are in :mod:`m2h_ros.commands`.

Expected failures (bad arguments, missing files, invalid configuration) end with one line on
stderr and exit status 2, never a traceback: arguments are checked by the parser, and the library
raises :class:`~m2h_ros.errors.M2HError` for everything else a user can fix. Any other exception is a
bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from m2h_ros import __version__, commands
from m2h_ros.errors import M2HError


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


def _hfov(text: str) -> float:
    """An argparse type: a horizontal field of view in degrees, within (0, 180)."""
    value = _at_least(0.0, float)(text)
    if not 0 < value < 180:
        raise argparse.ArgumentTypeError(f"must be between 0 and 180 degrees, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="m2h", description="Monocular spatial perception for ROS 2.")
    parser.add_argument("--version", action="version", version=f"m2h_ros {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _label_commands(sub)
    _model_commands(sub)
    _run_commands(sub)
    _synth_commands(sub)
    return parser


def _label_commands(sub) -> None:
    from m2h_ros.labels import LABEL_SPACES

    lab = sub.add_parser("labels", help="label spaces and Hydra's label files")
    lab_cmds = lab.add_subparsers(dest="labels_command", required=True, metavar="ACTION")
    export = lab_cmds.add_parser("export", help="write Hydra label-space YAML and colour CSV")
    export.add_argument("--space", default="all", choices=[*LABEL_SPACES, "all"])
    export.add_argument("--out", type=Path, default=Path("."), help="output directory (default: .)")
    export.add_argument("--relative", action="store_true",
                        help="name the colour CSV by its file name (as config/hydra ships it), not its absolute path")  # fmt: skip
    export.set_defaults(func=commands.labels_export)
    show = lab_cmds.add_parser("list", help="print the classes of a label space")
    show.add_argument("space", choices=list(LABEL_SPACES))
    show.set_defaults(func=commands.labels_list)


def _model_commands(sub) -> None:
    """Checkpoints: convert, export-onnx, info, train, eval."""
    from m2h_ros.labels import LABEL_SPACES
    from m2h_ros.model.build import VARIANTS

    conv = sub.add_parser(
        "convert", help="the authors' M2H .pt state dict -> a checkpoint, or a checkpoint -> the authors' .pt layout"
    )
    conv.add_argument("src", type=Path, help="the authors' .pt file (read with weights_only=True) or a .safetensors")
    conv.add_argument(
        "out", type=Path, help="output: .safetensors, or .pt for the authors' layout (their code loads it)"
    )
    conv.add_argument("--variant", default="m2h", choices=list(VARIANTS), help="variant of an authors' .pt")
    conv.add_argument("--channels", type=_at_least(4), help="decoder width C of an authors' .pt, if not the variant's "
                      "(their lightweight code builds m2h_small at 96)")  # fmt: skip
    conv.add_argument("--fp16", action="store_true", help="store float16 (half the size; loads as float32)")
    conv.set_defaults(func=commands.convert)
    onnx = sub.add_parser("export-onnx", help="export a checkpoint to ONNX and check it against torch")
    onnx.add_argument("weights", type=Path)
    onnx.add_argument("out", type=Path)
    onnx.add_argument("--size", type=_at_least(14), nargs=2, default=[224, 224], metavar=("H", "W"))
    onnx.set_defaults(func=commands.export_onnx)
    info = sub.add_parser("info", help="print a checkpoint's header (config, label space, metrics)")
    info.add_argument("weights", type=Path)
    info.set_defaults(func=commands.info)

    tr = sub.add_parser("train", help="train a network (multi-GPU: torchrun --nproc_per_node N -m m2h_ros.cli train)")
    tr.add_argument(
        "--config", type=Path, required=True, help="training YAML (see config/train/m2h_lite_synthetic.yaml)"
    )
    tr.add_argument("--out-dir", type=Path, help="run directory (overrides out_dir)")
    tr.add_argument("--iterations", type=_at_least(1), help="overrides iterations")
    tr.add_argument("--resume", action="store_true", help="continue from the run directory's last checkpoint")
    tr.set_defaults(func=commands.train)
    ev = sub.add_parser("eval", help="pooled multi-task metrics of a checkpoint on a dataset split")
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
    ev.add_argument("--edges", default="seism", choices=["seism", "fast"],
                    help="edge odsF protocol: seism (as published figures are scored; default) or fast")  # fmt: skip
    ev.set_defaults(func=commands.eval_checkpoint)


def _run_commands(sub) -> None:
    """predict, run and bag eval."""
    from m2h_ros.weights import BUNDLED_INPUT_SIZE

    pr = sub.add_parser("predict", help="run a checkpoint on image files and draw its outputs")
    pr.add_argument("images", type=Path, nargs="+", help="image files (any format Pillow reads)")
    pr.add_argument("--weights", type=Path, help="checkpoint (default: the bundled weights)")
    pr.add_argument("--out", type=Path, default=Path("predictions.png"), help="the contact sheet to write")
    pr.add_argument("--input-size", type=_at_least(14), nargs=2, default=list(BUNDLED_INPUT_SIZE), metavar=("H", "W"),
                    help="the size the network runs at (default: the bundled weights')")  # fmt: skip
    pr.add_argument("--width", type=_at_least(16), default=320, help="width of each row's pictures")
    pr.add_argument("--hfov", type=_hfov, metavar="DEG",
                    help="the photos' horizontal field of view in degrees, for metric depth from a canonical-camera "
                         "network (default: its canonical camera's)")  # fmt: skip
    pr.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    pr.set_defaults(func=commands.predict)

    run = sub.add_parser("run", help="start the perception (and scene-graph) node as the launch file does")
    run.add_argument("--config", type=Path, help="ROS parameter file (default: config/perception.yaml)")
    run.add_argument("--weights", type=Path, help="checkpoint (default: as in the config, else the bundled weights)")
    run.add_argument("--device", choices=["auto", "cpu", "cuda"])
    run.add_argument("--image", default="/camera/color/image_raw", help="input image topic")
    run.add_argument("--camera-info", default="/camera/color/camera_info", help="input camera_info topic")
    run.add_argument("--namespace", default="/m2h", help="namespace of the outputs (default: /m2h)")
    run.add_argument("--scene-graph", action="store_true", help="also start the scene-graph node")
    run.add_argument("--pose", default="/camera/pose", help="camera PoseStamped topic for the scene-graph node")
    run.set_defaults(func=commands.run)

    bags = sub.add_parser("bag", help="rosbag2 tools")
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
    be.set_defaults(func=commands.bag_eval)


def _synth_commands(sub) -> None:
    synth = sub.add_parser("synth", help="procedural homes with exact ground truth")
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
        p.add_argument("--size", type=_at_least(16), nargs=2, default=[240, 320], metavar=("H", "W"),
                       help="image height and width (as every --size and input_size: H W)")  # fmt: skip
        p.add_argument("--noise", type=_at_least(0.0, float), default=0.0, help="sensor noise σ baked into RGB")
        p.add_argument("--randomize", action="store_true",
                       help="domain randomisation: camera field of view, height and pitch, materials, lights, "
                            "exposure, white balance, noise, blur, JPEG (m2h_ros/synth/randomize.py)")  # fmt: skip
    ds.set_defaults(func=commands.synth_dataset)
    bag.set_defaults(func=commands.synth_bag)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    args.command_line = " ".join(["m2h", *argv])  # saved with results, so that they say what made them
    try:
        return args.func(args)
    except M2HError as e:
        print(f"m2h: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        if e.filename is None:  # not about a file the user named: a bug, or the machine
            raise
        print(f"m2h: error: {e.filename}: {e.strerror}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("m2h: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
