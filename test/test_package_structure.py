"""The package's layering: no import cycle (imports inside functions included), and only the ROS
shell (``m2h_ros/ros/``) imports rclpy or message packages."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "m2h_ros"
ROS_MODULES = ("rclpy", "sensor_msgs", "geometry_msgs", "std_msgs", "visualization_msgs", "diagnostic_msgs",
               "tf2_msgs", "rcl_interfaces", "m2h_ros.msg")  # fmt: skip


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_blocks(tree: ast.AST) -> set[ast.AST]:
    """The nodes under ``if TYPE_CHECKING:``: annotations only, never imported at run time."""
    blocks = [n for n in ast.walk(tree) if isinstance(n, ast.If) and getattr(n.test, "id", None) == "TYPE_CHECKING"]
    return {inner for block in blocks for stmt in block.body for inner in ast.walk(stmt)}


def _imports(path: Path) -> set[str]:
    """Every module imported anywhere in the file at run time (``from a import b`` names a and a.b)."""
    names = set()
    tree = ast.parse(path.read_text())
    skip = _type_checking_blocks(tree)
    for node in ast.walk(tree):
        if node in skip:
            continue
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return names


def _graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {m: {n for n in _imports(p) if n in files and n != m} for m, p in files.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (module -> modules it imports), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        path.append(m)
        for n in sorted(graph.get(m, ())):
            if state.get(n) == 1:
                return path[path.index(n) :] + [n]
            if n not in state and (cycle := visit(n)):
                return cycle
        path.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (cycle := visit(m)):
            return cycle
    return None


def test_find_cycle_reports_a_cycle_through_a_function_level_import():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_package_has_no_import_cycle():
    graph = _graph()
    assert "m2h_ros.model.loading" in graph["m2h_ros.model.checkpoint"]  # the graph sees real imports
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_only_the_ros_shell_imports_rclpy_or_messages():
    offenders = {
        str(p.relative_to(PACKAGE.parent)): sorted(n for n in _imports(p) if n.startswith(ROS_MODULES))
        for p in PACKAGE.rglob("*.py")
        if "ros" not in p.relative_to(PACKAGE).parts[:1]
    }
    assert {p: n for p, n in offenders.items() if n} == {}
