"""Start the perception node on a camera.

    ros2 launch m2h_ros perception.launch.py image:=/camera/color/image_raw \
        camera_info:=/camera/color/camera_info weights:=/path/to/model.safetensors device:=cuda
"""

from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from launch import LaunchDescription


def generate_launch_description():
    arg = LaunchConfiguration
    default_config = PathJoinSubstitution([FindPackageShare("m2h_ros"), "config", "perception.yaml"])
    return LaunchDescription([
        DeclareLaunchArgument("config", default_value=default_config, description="node parameter file"),
        DeclareLaunchArgument("weights", default_value="", description="checkpoint; empty: the bundled weights"),
        DeclareLaunchArgument("device", default_value="auto", description="auto, cpu or cuda"),
        DeclareLaunchArgument("image", default_value="/camera/color/image_raw"),
        DeclareLaunchArgument("camera_info", default_value="/camera/color/camera_info"),
        DeclareLaunchArgument("namespace", default_value="m2h", description="namespace of the outputs"),
        Node(
            package="m2h_ros",
            executable="perception_node",
            namespace=arg("namespace"),
            parameters=[arg("config"), {"weights": arg("weights"), "device": arg("device")}],
            remappings=[("image", arg("image")), ("camera_info", arg("camera_info"))],
            output="screen",
            emulate_tty=True,
        ),
    ])  # fmt: skip
