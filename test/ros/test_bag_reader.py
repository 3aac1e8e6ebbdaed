"""Reading bags for `m2h bag eval`, without DDS: a bag that breaks while it is read ends early with a
note, and its messages up to there are kept."""

from pathlib import Path
from types import SimpleNamespace

from m2h_ros.ros.bag_reader import BagSource


class _BreakingReader:
    """rosbags' reader interface, over a bag whose third message is damaged."""

    connections = (SimpleNamespace(topic="/camera/image_raw", msgtype="sensor_msgs/msg/Image", msgcount=3),)

    def messages(self, connections):
        for t_ns in (1, 2):
            yield connections[0], t_ns, b"raw"
        raise ValueError("chunk CRC mismatch")


def test_a_bag_that_breaks_while_reading_ends_early_with_a_note():
    topics = {"image": "/camera/image_raw", "camera_info": None, "pose": None, "tf": None}
    source = BagSource(Path("home"), _BreakingReader(), topics, has_truth=False, truth=None, n_images=3)
    assert [(topic, t_ns) for topic, _, t_ns, _ in source.messages()] == [
        ("/camera/image_raw", 1),
        ("/camera/image_raw", 2),
    ]
    assert source.notes == ["the bag ends early (after 2 messages): ValueError: chunk CRC mismatch"]
