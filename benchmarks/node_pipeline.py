"""The perception node's own cost and its behaviour under load.

1. Per-frame cost of everything but the network at 640×480, in-process: decoding the image,
   the Predictor's pre- and post-processing, and building every output message (goal: ≤ 15 ms).
2. End to end over DDS: a camera publishes 640×480 rgb8 + camera_info at 30 Hz to a perception_node
   subprocess running m2h_lite on the CPU, over the package's shared-memory Fast DDS profile
   (config/fastdds_shm_big.xml, as ``m2h bag eval`` and the README set it; ``--transport default`` for
   Fast DDS's own). Reports where frames go: lost in transport before the node, dropped by the node's
   newest-frame policy, processed, and clouds lost on the way back; output rate, latency percentiles
   (image publish -> cloud received) and the node's memory over time.

Writes benchmarks/results/node_pipeline.json.

    python benchmarks/node_pipeline.py [--duration 120] [--weights W.safetensors] [--transport shm]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from provenance import REPO, machine, save

W, H = 640, 480


def random_weights(directory: Path) -> Path:
    """An m2h_lite checkpoint with random weights: the pipeline's cost does not depend on training."""
    import torch

    from m2h_ros.model.build import build_model
    from m2h_ros.model.checkpoint import save_checkpoint

    torch.manual_seed(0)
    return save_checkpoint(build_model("m2h_lite"), directory / "lite.safetensors")


def camera(t: float):
    from m2h_ros.geometry.cloud import Intrinsics
    from m2h_ros.ros.conversions import array_to_image, camera_info_from_intrinsics, header_at

    rgb = np.random.default_rng(int(t * 1000) % 2**32).integers(0, 255, (H, W, 3), dtype=np.uint8)
    header = header_at(t, "camera_color_optical_frame")
    K = Intrinsics(525.0, 525.0, 319.5, 239.5, W, H)
    return array_to_image(rgb, "rgb8", header), camera_info_from_intrinsics(K, header)


def in_process_cost(weights: Path, stride: int, reps: int = 60) -> dict:
    import rclpy
    from rclpy.parameter import Parameter

    from m2h_ros.ros import conversions as conv
    from m2h_ros.ros.perception_node import PerceptionNode
    from m2h_ros.ros.perception_outputs import OUTPUTS

    rclpy.init()
    # Random weights predict depths near 0: keep every point so the cloud is built at full size.
    node = PerceptionNode(parameter_overrides=[Parameter("weights", value=str(weights)), Parameter("threads", value=2),
                                               Parameter("cloud.min_range_m", value=0.0),
                                               Parameter("cloud.stride", value=stride)])  # fmt: skip
    try:
        image, info = camera(1.0)
        node.camera.add(info)
        parts = {"decode_and_camera": [], "preprocess": [], "postprocess": [], "outputs": [], "network": []}
        for i in range(reps + 3):
            t0 = time.perf_counter()
            rgb = conv.image_to_rgb8(image)
            rgb, K = node.camera.pinhole(node.camera.pair(conv.stamp_seconds(image.header), W, H), rgb)
            t1 = time.perf_counter()
            pred = node.predictor.predict(rgb, K.fx)
            t2 = time.perf_counter()
            msgs = node.outputs.build(image.header, rgb, pred, set(OUTPUTS), K)
            t3 = time.perf_counter()
            assert set(msgs) == set(OUTPUTS), set(OUTPUTS) - set(msgs)
            if i >= 3:
                parts["decode_and_camera"].append((t1 - t0) * 1e3)
                parts["outputs"].append((t3 - t2) * 1e3)
                for k in ("preprocess", "postprocess", "network"):
                    parts[k].append(pred.timings_ms[k])
        med = {k: round(statistics.median(v), 2) for k, v in parts.items()}
        med["all_but_network"] = round(
            med["decode_and_camera"] + med["preprocess"] + med["postprocess"] + med["outputs"], 2
        )
        med["cloud_points"] = msgs["points"].width
        return med
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def use_transport(transport: str) -> None:
    """This process's and its children's DDS set-up; before the first participant (Fast DDS reads its
    profiles once per process)."""
    os.environ.update(ROS_DOMAIN_ID=str(90 + os.getpid() % 10), ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST")
    if transport == "shm":
        os.environ["FASTRTPS_DEFAULT_PROFILES_FILE"] = str(REPO / "config" / "fastdds_shm_big.xml")
    else:
        os.environ.pop("FASTRTPS_DEFAULT_PROFILES_FILE", None)


def end_to_end(weights: Path, duration_s: float, stride: int, transport: str, rate_hz: float = 30.0) -> dict:
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from sensor_msgs.msg import CameraInfo, Image, PointCloud2

    env = dict(os.environ)
    node = subprocess.Popen(
        [sys.executable, "-m", "m2h_ros.ros.perception_node", "--ros-args", "-p", f"weights:={weights}",
         "-p", "threads:=2", "-p", "cloud.min_range_m:=0.0", "-p", f"cloud.stride:={stride}"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip
    rclpy.init()
    cam = rclpy.create_node("bench_camera")
    sent, latencies, diag, memory = {}, [], [], []
    image_pub = cam.create_publisher(Image, "image", 10)
    info_pub = cam.create_publisher(CameraInfo, "camera_info", 10)

    def on_points(msg):
        key = (msg.header.stamp.sec, msg.header.stamp.nanosec)
        if key in sent:
            latencies.append((time.perf_counter() - sent.pop(key)) * 1e3)

    cam.create_subscription(PointCloud2, "points", on_points, 10)
    cam.create_subscription(DiagnosticArray, "/diagnostics", diag.append, 10)
    frames = [camera(1.0 + i) for i in range(8)]  # pre-built: the camera itself must not be the bottleneck
    try:
        start = time.monotonic()
        while image_pub.get_subscription_count() == 0 and time.monotonic() - start < 60:
            rclpy.spin_once(cam, timeout_sec=0.1)
        t0 = time.monotonic()
        n, next_sample = 0, t0
        while time.monotonic() - t0 < duration_s:
            image, info = frames[n % len(frames)]
            stamp = image.header.stamp
            stamp.sec, stamp.nanosec = 100 + n // 30, (n % 30) * 33_000_000
            info.header.stamp = stamp
            sent[(stamp.sec, stamp.nanosec)] = time.perf_counter()
            info_pub.publish(info)
            image_pub.publish(image)
            n += 1
            if time.monotonic() >= next_sample:
                memory.append(round(rss_mb(node.pid), 1))
                next_sample += 5.0
            deadline = t0 + n / rate_hz
            while time.monotonic() < deadline:
                rclpy.spin_once(cam, timeout_sec=max(0.0, deadline - time.monotonic()))
        end = time.monotonic() + 3
        while time.monotonic() < end:
            rclpy.spin_once(cam, timeout_sec=0.1)
    finally:
        node.send_signal(subprocess.signal.SIGINT)
        node.wait(10)
        cam.destroy_node()
        rclpy.try_shutdown()
    values = {}
    for m in diag:
        for s in m.status:
            if "perception" in s.name:
                values = {kv.key: kv.value for kv in s.values}
    lat = np.array(latencies) if latencies else np.array([np.nan])
    frames_in, frames_out = int(values.get("frames_in", 0)), int(values.get("frames_out", 0))
    return {
        "duration_s": duration_s,
        "transport": transport,
        "input_rate_hz": round(n / duration_s, 2),
        "frames_sent": n,
        # Where the frames went: never reached the node, dropped by its newest-frame policy, processed,
        # and processed but the cloud never reached the subscriber.
        "lost_in_transport_to_node": n - frames_in,
        "node_frames_in": frames_in,
        "node_dropped_newest_frame_policy": int(values.get("dropped", 0)),
        "node_frames_out": frames_out,
        "clouds_received": len(latencies),
        "clouds_lost_in_transport": frames_out - len(latencies),
        "output_rate_hz": round(len(latencies) / duration_s, 2),
        "latency_ms": {p: round(float(np.percentile(lat, q)), 1) for p, q in (("p50", 50), ("p95", 95), ("p99", 99))}
        | {"max": round(float(lat.max()), 1)},
        "node_rss_mb_every_5s": memory,
        "node_rss_growth_mb_after_warmup": round(memory[-1] - memory[min(2, len(memory) - 1)], 1) if memory else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of 30 Hz input (default 120)")
    parser.add_argument("--weights", type=Path, help="checkpoint (default: m2h_lite with random weights)")
    parser.add_argument("--stride", type=int, default=2, help="cloud stride (2 as in config/perception.yaml)")
    parser.add_argument("--transport", choices=("shm", "default"), default="shm",
                        help="shm: the package's Fast DDS profile (default); default: Fast DDS's own")  # fmt: skip
    args = parser.parse_args()
    started = machine()
    use_transport(args.transport)
    with tempfile.TemporaryDirectory() as tmp:
        weights = args.weights or random_weights(Path(tmp))
        result = {"cloud_stride": args.stride, "in_process_640x480_ms": in_process_cost(weights, args.stride)}
        print(json.dumps(result, indent=2), flush=True)
        result["end_to_end_30hz_640x480"] = end_to_end(weights, args.duration, args.stride, args.transport)
    save("node_pipeline" if args.transport == "shm" else "node_pipeline_default_transport", args, result, started)
    print(json.dumps(result["end_to_end_30hz_640x480"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
