"""Launch files, the RViz layout and the node configuration refer to what the nodes really publish."""

import ast
import json
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def _topics(tree) -> list[str]:
    if isinstance(tree, dict):
        return [tree["Topic"]["Value"]] if "Topic" in tree else [t for v in tree.values() for t in _topics(v)]
    if isinstance(tree, list):
        return [t for v in tree for t in _topics(v)]
    return []


def _published() -> set[str]:
    from m2h_ros.ros.perception_outputs import OUTPUT_TOPICS, OUTPUTS

    return {f"/m2h/{OUTPUT_TOPICS.get(o, o)}" for o in OUTPUTS} | {"/m2h/scene_graph_markers", "/diagnostics"}


def test_rviz_layout_shows_published_topics():
    rviz = yaml.safe_load((REPO / "config" / "rviz" / "m2h.rviz").read_text())
    topics = _topics(rviz)
    assert {"/m2h/points", "/m2h/scene_graph_markers", "/m2h/semantic_overlay", "/m2h/depth"} <= set(topics)
    assert set(topics) <= _published()
    assert rviz["Visualization Manager"]["Global Options"]["Fixed Frame"] == "map"


def test_foxglove_layout_shows_published_topics_in_every_panel():
    layout = json.loads((REPO / "config" / "foxglove" / "m2h.json").read_text())
    panels = layout["configById"]

    def leaves(node):
        return [node] if isinstance(node, str) else leaves(node["first"]) + leaves(node["second"])

    assert sorted(leaves(layout["layout"])) == sorted(panels)
    topics = {c["imageMode"]["imageTopic"] for c in panels.values() if "imageMode" in c}
    topics |= {t for c in panels.values() for t in c.get("topics", {})}
    topics |= {c["topicToRender"] for c in panels.values() if "topicToRender" in c}
    assert {"/m2h/points", "/m2h/scene_graph_markers", "/m2h/semantic_overlay", "/m2h/depth", "/diagnostics"} <= topics
    assert topics <= _published()


def test_launch_files_are_valid_python_with_a_description():
    for path in (REPO / "launch").glob("*.launch.py"):
        tree = ast.parse(path.read_text(), str(path))
        assert any(isinstance(n, ast.FunctionDef) and n.name == "generate_launch_description" for n in tree.body), path


def _node_call(path: Path, package: str) -> ast.Call:
    """The launch file's ``Node(package=package, ...)`` call."""
    for call in ast.walk(ast.parse(path.read_text())):
        if isinstance(call, ast.Call) and getattr(call.func, "id", None) == "Node":
            kwargs = {k.arg: k.value for k in call.keywords}
            if ast.literal_eval(kwargs["package"]) == package:
                return call
    raise AssertionError(f"no Node of package {package} in {path}")


def test_hydra_launch_feeds_each_hydra_input_from_an_output_the_node_publishes():
    from m2h_ros.ros.perception_outputs import OUTPUT_TOPICS, OUTPUTS

    call = _node_call(REPO / "launch" / "hydra.launch.py", "m2h_ros")
    kwargs = {k.arg: k.value for k in call.keywords}
    # remappings: (node topic, [*hydra, "/suffix"]) for Hydra's inputs
    remapped = {}
    for pair in kwargs["remappings"].elts:
        source, target = pair.elts
        if isinstance(target, ast.List):
            remapped[ast.literal_eval(source)] = ast.literal_eval(target.elts[-1])
    assert remapped == {"depth": "/depth_registered/image_rect", "semantic": "/semantic/image_raw",
                        "color": "/rgb/image_raw", "camera_info_out": "/rgb/camera_info"}  # fmt: skip
    outputs = next(ast.literal_eval(d.values[d.keys.index(k)]) for d in kwargs["parameters"].elts
                   if isinstance(d, ast.Dict) for k in d.keys if ast.literal_eval(k) == "outputs")  # fmt: skip
    topics = {OUTPUT_TOPICS.get(o, o) for o in outputs}
    assert set(outputs) <= set(OUTPUTS) and set(remapped) <= topics, (outputs, remapped)
    # the only node: nothing else (no relay) can be left running when it fails
    nodes = [c for c in ast.walk(ast.parse((REPO / "launch" / "hydra.launch.py").read_text()))
             if isinstance(c, ast.Call) and getattr(c.func, "id", None) == "Node"]  # fmt: skip
    assert len(nodes) == 1


def test_node_configuration_file_is_valid_for_both_nodes():
    from m2h_ros.config import load
    from m2h_ros.ros.perception_config import PerceptionConfig
    from m2h_ros.ros.scene_graph_node import SceneGraphNodeConfig

    path = REPO / "config" / "perception.yaml"
    assert load(PerceptionConfig, path, node="perception_node").cloud.stride == 2
    sg = load(SceneGraphNodeConfig, path, node="scene_graph_node")
    assert sg.graph.floor_z_m is None and sg.graph.label_space == "synthetic"
