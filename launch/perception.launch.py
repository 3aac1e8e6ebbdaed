"""Start the perception node on a camera, and optionally the scene-graph node on its cloud.

    ros2 launch m2h_ros perception.launch.py image:=/camera/color/image_raw \
        camera_info:=/camera/color/camera_info weights:=/path/to/model.safetensors device:=cuda \
        scene_graph:=true pose:=/camera/pose
"""

from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
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
        DeclareLaunchArgument("scene_graph", default_value="false", description="also start scene_graph_node"),
        DeclareLaunchArgument("pose", default_value="/camera/pose",
                              description="camera PoseStamped topic (scene_graph_node, pose_source pose)"),
        Node(
            package="m2h_ros",
            executable="perception_node",
            namespace=arg("namespace"),
            parameters=[arg("config"), {"weights": arg("weights"), "device": arg("device")}],
            remappings=[("image", arg("image")), ("camera_info", arg("camera_info"))],
            output="screen",
            emulate_tty=True,
        ),
        Node(
            package="m2h_ros",
            executable="scene_graph_node",
            namespace=arg("namespace"),
            parameters=[arg("config")],
            remappings=[("pose", arg("pose"))],
            output="screen",
            emulate_tty=True,
            condition=IfCondition(arg("scene_graph")),
        ),
    ])  # fmt: skip
