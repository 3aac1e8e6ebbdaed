"""perception_node's parameters: the config dataclass, each parameter's description and range, and
the QoS profiles its topics may use (names in ``input_qos``/``output_qos``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data

from m2h_ros import labels as label_spaces
from m2h_ros.config import check
from m2h_ros.geometry.cloud import CloudOptions
from m2h_ros.geometry.scale import ScaleConfig
from m2h_ros.ros.perception_outputs import OUTPUTS
from m2h_ros.weights import BUNDLED_INPUT_SIZE, BUNDLED_WEIGHTS

QOS = {
    "sensor_data": qos_profile_sensor_data,  # best effort: matches every camera driver
    "reliable": QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE),  # what Hydra-ROS subscribes with
}


@dataclass
class PerceptionConfig:
    """The node's parameters (ROS parameter names are the field names; ``cloud.*`` for the cloud)."""

    weights: str = ""  # empty: the bundled weights
    device: str = "auto"
    backend: str = "torch"
    dtype: str = "fp32"
    input_size: tuple[int, int] = BUNDLED_INPUT_SIZE  # 4:3, the bundled weights' training scale
    threads: int = 0
    resize: str = "antialias"
    max_rate_hz: float = 0.0  # 0: as fast as frames come and the network allows
    label_space: str = ""  # empty: the model's own; else publish labels remapped into this space
    outputs: tuple[str, ...] = OUTPUTS
    camera_info_tolerance_s: float = 0.02
    camera_info_wait_s: float = 0.1  # for the camera_info of an image that came first
    rectify: bool = True  # undistort images whose camera_info has distortion (false: refuse them)
    input_qos: str = "sensor_data"
    output_qos: str = "reliable"
    max_input_pixels: int = 4096 * 4096
    overlay_alpha: float = 0.4
    diagnostics_period_s: float = 1.0
    cloud: CloudOptions = field(default_factory=CloudOptions)
    scale: ScaleConfig = field(default_factory=ScaleConfig)

    def __post_init__(self) -> None:
        self.input_size, self.outputs = tuple(self.input_size), tuple(self.outputs)
        check(self.device in ("auto", "cpu", "cuda"), "device", f"must be auto, cpu or cuda, got {self.device!r}")
        check(
            self.backend in ("torch", "onnxruntime"), "backend", f"must be torch or onnxruntime, got {self.backend!r}"
        )
        check(self.dtype in ("fp32", "fp16", "bf16"), "dtype", f"must be fp32, fp16 or bf16, got {self.dtype!r}")
        check(self.resize in ("antialias", "bilinear"), "resize", f"must be antialias or bilinear, got {self.resize!r}")
        check(len(self.input_size) == 2, "input_size", "must be [height, width]")
        unknown = sorted(set(self.outputs) - set(OUTPUTS))
        check(not unknown, "outputs", f"has unknown names {unknown}; known: {', '.join(OUTPUTS)}")
        check(not self.label_space or self.label_space in label_spaces.LABEL_SPACES, "label_space",
              f"must be empty or one of {', '.join(label_spaces.LABEL_SPACES)}, got {self.label_space!r}")  # fmt: skip
        check(self.max_rate_hz >= 0, "max_rate_hz", f"must be >= 0, got {self.max_rate_hz}")
        check(self.camera_info_tolerance_s >= 0, "camera_info_tolerance_s", "must be >= 0")
        check(self.camera_info_wait_s >= 0, "camera_info_wait_s", "must be >= 0")
        check(0 <= self.overlay_alpha <= 1, "overlay_alpha", f"must be within 0..1, got {self.overlay_alpha}")
        for key in ("input_qos", "output_qos"):
            check(getattr(self, key) in QOS, key, f"must be one of {', '.join(QOS)}, got {getattr(self, key)!r}")

    @property
    def weights_path(self) -> Path:
        return Path(self.weights).expanduser() if self.weights else BUNDLED_WEIGHTS


# name -> (description, range); defaults come from PerceptionConfig.
PARAMETERS = {
    "weights": ("checkpoint (.safetensors); empty: the bundled weights", None, None),
    "device": ("auto, cpu or cuda", None, None),
    "backend": ("torch or onnxruntime", None, None),
    "dtype": ("fp32, fp16 or bf16 (fp16/bf16 on cuda only)", None, None),
    "input_size": ("[height, width] the network runs at", None, None),
    "threads": ("CPU threads for inference (0: library default)", 0, 256),
    "resize": ("antialias (default) or bilinear: the authors' plain resize, for their checkpoints", None, None),
    "max_rate_hz": ("most frames per second to process (0: unlimited)", 0.0, 1000.0),
    "label_space": ("label space of the published labels (empty: the model's)", None, None),
    "outputs": (f"outputs to publish, of: {', '.join(OUTPUTS)}", None, None),
    "camera_info_tolerance_s": ("largest stamp difference for pairing camera_info with an image", 0.0, 10.0),
    "camera_info_wait_s": ("longest wait for the camera_info of an image that arrived before it", 0.0, 10.0),
    "rectify": ("undistort images whose camera_info has distortion (false: refuse them)", None, None),
    "input_qos": (f"QoS of the image and camera_info subscriptions: {' or '.join(QOS)}", None, None),
    "output_qos": (f"QoS of the outputs (camera_info_out is also transient-local): {' or '.join(QOS)}", None, None),
    "max_input_pixels": ("larger images are rejected", 1, 2**31 - 1),
    "overlay_alpha": ("weight of the label colours in semantic_overlay", 0.0, 1.0),
    "diagnostics_period_s": ("period of /diagnostics", 0.1, 60.0),
    "cloud.stride": ("keep every n-th pixel in each direction", 1, 64),
    "cloud.min_range_m": ("nearest depth kept in the cloud", 0.0, 1000.0),
    "cloud.max_range_m": ("farthest depth kept in the cloud", 0.0, 1000.0),
    "cloud.voxel_size_m": ("voxel downsampling of the cloud (0: off)", 0.0, 10.0),
    "scale.mode": ("none, or floor: metric depth from the floor and the camera's height", None, None),
    "scale.camera_height_m": ("the camera's height above the floor (scale.mode floor)", 0.0, 100.0),
    "scale.min_floor_pixels": ("fewest ground pixels for a scale estimate", 3, 10_000_000),
    "scale.max_normal_angle_deg": ("ground pixels whose normal is further from the floor's are left out", 0.0, 90.0),
    "scale.smoothing": ("weight of a new estimate in the running scale", 0.0, 1.0),
    "scale.gate": ("estimates further than this (relative) from the running scale are rejected", 0.0, 100.0),
    "scale.reset_after": ("this many rejections in a row restart the running scale", 1, 100000),
}
