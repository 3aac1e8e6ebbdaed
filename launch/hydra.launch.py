"""The perception node feeding Hydra: its outputs remapped onto Hydra-ROS's inputs for one camera.

    ros2 launch m2h_ros hydra.launch.py sensor:=camera image:=/camera/color/image_raw \
        camera_info:=/camera/color/camera_info
    # then start Hydra with the label space this package generates for the model's labels:
    #   labelspace_path:=$(ros2 pkg prefix m2h_ros)/share/m2h_ros/config/hydra/synthetic_label_space.yaml

Hydra-ROS subscribes ``hydra/input/<sensor>/{rgb/image_raw, rgb/camera_info,
depth_registered/image_rect, semantic/image_raw}`` (reliable, camera_info transient-local; depth 32FC1
metres, labels 16SC1 with -1 ignored, all with the colour image's header). The perception node
publishes all four for each frame it processes, with the input image's header: the colour image it ran
on (rectified if the camera is distorted), depth, labels, and the pinhole camera_info that fits them.
"""

from launch.actions import DeclareLaunchArgument, LogInfo
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from launch import LaunchDescription


def generate_launch_description():
    arg = LaunchConfiguration
    share = FindPackageShare("m2h_ros")
    hydra = ["/hydra/input/", arg("sensor")]
    # Jazzy's PathJoinSubstitution takes no nested lists, so the file name is spelled out in the message.
    label_space = [share, "/config/hydra/", arg("label_space"), "_label_space.yaml"]
    return LaunchDescription([
        DeclareLaunchArgument("sensor", default_value="camera", description="Hydra's name for this camera"),
        DeclareLaunchArgument("image", default_value="/camera/color/image_raw"),
        DeclareLaunchArgument("camera_info", default_value="/camera/color/camera_info"),
        DeclareLaunchArgument("config", default_value=PathJoinSubstitution([share, "config", "perception.yaml"])),
        DeclareLaunchArgument("weights", default_value="", description="checkpoint; empty: the bundled weights"),
        DeclareLaunchArgument("device", default_value="auto"),
        DeclareLaunchArgument("label_space", default_value="synthetic",
                              description="the label space of the weights (nyu40, nyu20, synthetic)"),
        Node(
            package="m2h_ros",
            executable="perception_node",
            namespace="m2h",
            parameters=[arg("config"), {"weights": arg("weights"), "device": arg("device"),
                                        "outputs": ["color", "depth", "semantic", "camera_info", "semantic_color"]}],
            remappings=[
                ("image", arg("image")),
                ("camera_info", arg("camera_info")),
                ("depth", [*hydra, "/depth_registered/image_rect"]),
                ("semantic", [*hydra, "/semantic/image_raw"]),
                ("color", [*hydra, "/rgb/image_raw"]),
                ("camera_info_out", [*hydra, "/rgb/camera_info"]),
            ],
            output="screen",
        ),
        LogInfo(msg=["Hydra's label space for these outputs: ", *label_space]),
    ])  # fmt: skip
