"""launch_testing: perception.launch.py on a ROS 2 install (``colcon test`` or ``launch_test``).

Starts the launch file with the bundled weights, publishes a few frames, checks every image output with
the assertions the subprocess integration tests use (test/ros/helpers.py), and checks the exit codes
after shutdown. ``launch_testing`` is not on PyPI, so in the venv this file skips; the same assertions
run there through test/ros/test_perception_node.py.
"""

import time
import unittest

import pytest

pytest.importorskip(
    "launch_testing", reason="launch_testing is not installed (not on PyPI; run under colcon test on a ROS 2 install)"
)
import launch_testing.actions
import launch_testing.asserts
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch_ros.substitutions import FindPackageShare

import launch

W, H = 64, 48


@pytest.mark.launch_test
def generate_test_description():
    from launch.substitutions import PathJoinSubstitution

    source = PathJoinSubstitution([FindPackageShare("m2h_ros"), "launch", "perception.launch.py"])
    perception = launch.actions.IncludeLaunchDescription(
        PythonLaunchDescriptionSource(source),
        launch_arguments={"image": "/test/image", "camera_info": "/test/camera_info", "device": "cpu"}.items(),
    )
    return launch.LaunchDescription([perception, launch_testing.actions.ReadyToTest()])


class TestOutputs(unittest.TestCase):
    def test_every_image_output_arrives(self):
        import numpy as np
        import rclpy
        from ros.helpers import IMAGE_OUTPUTS, Collector, assert_image_outputs, make_camera_info, make_image, stamp_of
        from sensor_msgs.msg import CameraInfo, Image

        c = Collector("launch_test_collector")
        try:
            for name in IMAGE_OUTPUTS:
                c.subscribe(f"/m2h/{name}", Image)
            image_pub = c.node.create_publisher(Image, "/test/image", 10)
            info_pub = c.node.create_publisher(CameraInfo, "/test/camera_info", 10)
            rgb = np.random.default_rng(0).integers(0, 255, (H, W, 3), dtype=np.uint8)
            sent = {}
            end = time.monotonic() + 120
            while time.monotonic() < end and not all(c.messages[f"/m2h/{n}"] for n in IMAGE_OUTPUTS):
                t = 1000.0 + len(sent) * 0.1
                image = make_image(rgb, t)
                info_pub.publish(make_camera_info(W, H, t))
                image_pub.publish(image)
                sent[stamp_of(image.header)] = image
                c.spin_until(lambda: False, 0.2)
            assert_image_outputs({n: c.messages[f"/m2h/{n}"] for n in IMAGE_OUTPUTS}, sent, W, H)
        finally:
            c.close()
            assert not rclpy.ok()


@launch_testing.post_shutdown_test()
class TestShutdown(unittest.TestCase):
    def test_exit_codes(self, proc_info):
        launch_testing.asserts.assertExitCodes(proc_info, allowable_exit_codes=[0, -2, -15])
