"""The ROS 2 shell: the only part of the package that imports rclpy or message classes."""
