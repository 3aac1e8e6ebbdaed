"""The ``m2h`` sub-commands: each takes its parsed arguments, calls into the library and returns the
exit status. :mod:`m2h_ros.cli` parses the arguments and reports :class:`~m2h_ros.errors.M2HError`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from m2h_ros.errors import ConfigError, DataError, ImageError


def labels_export(args: argparse.Namespace) -> int:
    from m2h_ros import labels

    names = list(labels.LABEL_SPACES) if args.space == "all" else [args.space]
    for name in names:
        yaml_path, csv_path = labels.write_hydra_files(labels.get_label_space(name), args.out, args.relative)
        print(f"{name}: {yaml_path} {csv_path}")
    return 0


def labels_list(args: argparse.Namespace) -> int:
    from m2h_ros import labels

    space = labels.get_label_space(args.space)
    kinds = {"object": space.object_labels, "structure": space.structure_labels, "dynamic": space.dynamic_labels,
             "invalid": space.invalid_labels}  # fmt: skip
    for i, (name, color) in enumerate(zip(space.names, space.colors)):
        kind = next((k for k, ids in kinds.items() if i in ids), "-")
        print(f"{i:3d}  {name:20s} {kind:10s} #{color[0]:02x}{color[1]:02x}{color[2]:02x}")
    return 0


def convert(args: argparse.Namespace) -> int:
    import torch

    from m2h_ros.model.checkpoint import (
        convert_authors_checkpoint,
        load_checkpoint,
        read_header,
        save_checkpoint,
        to_authors_layout,
    )

    if args.out.suffix in (".pt", ".pth"):  # the authors' layout, for their code
        model = load_checkpoint(args.src)
        torch.save(to_authors_layout(model), args.out)
        print(f"{args.src} -> {args.out} (the authors' M2H key layout, {model.config.variant})")
        return 0
    if args.src.suffix == ".safetensors":  # one of ours: keep its header, change the storage type
        header = read_header(args.src)
        model, training_data, metrics = load_checkpoint(args.src), header["training_data"], header["metrics"]
    else:
        overrides = {"channels": args.channels} if args.channels else {}
        model, training_data, metrics = convert_authors_checkpoint(args.src, args.variant, **overrides), {}, {}
        training_data["converted_from"] = args.src.name
    dtype = torch.float16 if args.fp16 else None
    save_checkpoint(model, args.out, training_data=training_data, metrics=metrics, dtype=dtype)
    print(f"{args.src} -> {args.out} ({sum(p.numel() for p in model.parameters()):,} parameters, "
          f"{model.config.variant}{', float16' if args.fp16 else ''}, {args.out.stat().st_size / 1e6:.1f} MB)")  # fmt: skip
    return 0


def export_onnx(args: argparse.Namespace) -> int:
    import torch

    from m2h_ros.inference.onnx_export import export_onnx, max_abs_difference
    from m2h_ros.model.checkpoint import load_checkpoint

    model = load_checkpoint(args.weights).eval()
    path = export_onnx(model, args.out, tuple(args.size))
    diff = max_abs_difference(model, path, torch.randn(1, 3, *args.size))
    print(f"{path}: input (1, 3, {args.size[0]}, {args.size[1]}); max |onnx - torch| " + ", ".join(
        f"{k} {v:.1e}" for k, v in diff.items()))  # fmt: skip
    return 0


def info(args: argparse.Namespace) -> int:
    import json

    from m2h_ros.model.checkpoint import read_header

    print(json.dumps(read_header(args.weights), indent=2))
    return 0


def _synth_config(args: argparse.Namespace):
    from m2h_ros.synth.generate import SynthConfig
    from m2h_ros.synth.randomize import Randomization

    return SynthConfig(height=args.size[0], width=args.size[1], frames_per_scene=args.frames, noise=args.noise,
                       randomization=Randomization() if args.randomize else None)  # fmt: skip


def synth_dataset(args: argparse.Namespace) -> int:
    import dataclasses
    import json

    from m2h_ros.synth.generate import generate_dataset, render_scene
    from m2h_ros.synth.writers import ground_truth_sheet

    config = _synth_config(args)
    seeds = list(range(args.first_seed, args.first_seed + args.scenes))
    summary = generate_dataset(args.out, seeds, config, args.workers, args.val_fraction, args.test_fraction)
    _, frames = render_scene(seeds[0], dataclasses.replace(config, frames_per_scene=16))
    sheet = ground_truth_sheet(frames[::4], args.out / "contact_sheet.png")  # four views spread along the walk
    print(json.dumps(summary, indent=2))
    print(f"dataset: {args.out}  (contact sheet: {sheet})")
    return 0


def synth_bag(args: argparse.Namespace) -> int:
    import time

    from m2h_ros.synth.generate import render_scene
    from m2h_ros.synth.writers import ground_truth_sheet, write_bag

    if args.out.exists():
        raise DataError(f"{args.out} exists; choose a new bag directory")
    start = time.perf_counter()
    config = _synth_config(args)
    scene, frames = render_scene(args.seed, config, progress=True)
    write_bag(args.out, frames, scene.ground_truth(args.seed), args.rate, args.storage)
    sheet = ground_truth_sheet(
        frames[:: max(1, len(frames) // 4)][:4], args.out.with_name(args.out.name + "_contact_sheet.png")
    )
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(f"bag: {args.out} ({args.storage}, {len(frames)} frames at {args.rate} Hz, {size / 1e6:.1f} MB, "
          f"{time.perf_counter() - start:.0f} s)  scene: {args.out / 'scene.json'}  contact sheet: {sheet}")  # fmt: skip
    return 0


def predict(args: argparse.Namespace) -> int:
    import math

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
            raise ImageError(f"{path}: not a readable image ({e})") from None
        image = image.resize((args.width, round(image.height * args.width / image.width)), Image.Resampling.BICUBIC)
        focal = None if args.hfov is None else image.width / 2 / math.tan(math.radians(args.hfov) / 2)
        p = predictor.predict(np.asarray(image), focal)
        rows.append(SheetRow(np.asarray(image), p.depth, p.labels, p.normals, p.edges))
        print(f"{path}: {prediction_summary(p.depth, p.labels, space)}")
    print(f"contact sheet (RGB | depth | semantics | normals | edges): {contact_sheet(rows, space, args.out)}")
    return 0


def train(args: argparse.Namespace) -> int:
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


def eval_checkpoint(args: argparse.Namespace) -> int:
    import json

    from m2h_ros.eval.evaluate import eval_dataset, evaluate, format_metrics
    from m2h_ros.eval.metrics import delta_m
    from m2h_ros.inference.predictor import resolve_device
    from m2h_ros.model.checkpoint import load_checkpoint

    device = resolve_device(args.device)
    model = load_checkpoint(args.weights, map_location=device)
    dataset = eval_dataset(model, args.data, args.split, args.file_label_space)
    metrics = evaluate(model, dataset, device, args.batch_size, edge_protocol=args.edges)
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


def bag_eval(args: argparse.Namespace) -> int:
    from m2h_ros.eval.report import headline
    from m2h_ros.ros.bag_eval import BagEvalConfig, evaluate_bag

    cfg = BagEvalConfig(rate=args.rate, config=args.config, weights=args.weights, device=args.device)
    out = args.out or Path("out") / f"eval_{args.bag.name}"
    report = evaluate_bag(args.bag, out, cfg, command=args.command_line)
    print(headline(report))
    print(f"report: {out / 'report.md'} (figures and report.json beside it)")
    return 0 if report["timing"]["frames_answered"] else 2


def run(args: argparse.Namespace) -> int:
    from m2h_ros.config import default_config
    from m2h_ros.ros.perception_node import PerceptionNode
    from m2h_ros.ros.runner import run_nodes
    from m2h_ros.ros.scene_graph_node import SceneGraphNode

    config = args.config or default_config("perception.yaml")
    if not config.is_file():
        raise ConfigError(f"configuration file {config} does not exist")
    ros_args = ["--ros-args", "--params-file", str(config), "-r", f"__ns:={args.namespace}"]
    ros_args += ["-r", f"image:={args.image}", "-r", f"camera_info:={args.camera_info}", "-r", f"pose:={args.pose}"]
    if args.weights:
        ros_args += ["-p", f"weights:={args.weights}"]
    if args.device:
        ros_args += ["-p", f"device:={args.device}"]
    run_nodes([PerceptionNode, SceneGraphNode] if args.scene_graph else [PerceptionNode], ["m2h", *ros_args])
    return 0
