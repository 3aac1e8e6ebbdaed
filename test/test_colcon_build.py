"""The package builds in a ROS 2 workspace with colcon, and what it installs runs from there."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
VENV = Path(sys.prefix)
# What a workspace checkout of the package holds (the rest of the repository is development-only).
SOURCES = ("CMakeLists.txt", "package.xml", "msg", "m2h_ros", "scripts", "launch", "config")

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def _venv_env(env: dict) -> dict:
    """``env`` with the venv's executables first on PATH, as in an activated venv."""
    return dict(env, PATH=f"{VENV / 'bin'}:{env['PATH']}", VIRTUAL_ENV=str(VENV))


def _in_workspace(install: Path, command: str, env: dict, **kwargs) -> subprocess.Popen:
    """``command`` in bash after sourcing the workspace's setup, as a user of the workspace would."""
    script = f". {install}/setup.bash && export AMENT_PREFIX_PATH=$AMENT_PREFIX_PATH:{VENV} && exec {command}"
    return subprocess.Popen(["bash", "-c", script], env=_venv_env(env), text=True, **kwargs)


@pytest.fixture(scope="module")
def install(tmp_path_factory) -> Path:
    if shutil.which("colcon", path=str(VENV / "bin")) is None:
        pytest.skip("colcon is not installed (make setup installs it from requirements/dev.txt)")
    ws = tmp_path_factory.mktemp("ws")
    for name in SOURCES:
        src, dst = REPO / name, ws / "src" / "m2h_ros" / name
        if src.is_dir():
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    env = dict(_venv_env(dict(os.environ)), AMENT_PREFIX_PATH=str(VENV), CMAKE_PREFIX_PATH=str(VENV))
    result = subprocess.run(
        ["colcon", "build", "--merge-install", "--event-handlers", "console_cohesion+", "--cmake-args", "-G", "Ninja",
         f"-DPython3_EXECUTABLE={sys.executable}", "-DBUILD_TESTING=OFF"],
        cwd=ws, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return ws / "install"


def test_install_space_holds_executables_launch_files_config_and_messages(install):
    for exe in ("lib/m2h_ros/perception_node", "lib/m2h_ros/scene_graph_node", "bin/m2h"):
        assert os.access(install / exe, os.X_OK), exe
    share = install / "share" / "m2h_ros"
    for name in ("package.xml", "launch/perception.launch.py", "launch/hydra.launch.py", "config/perception.yaml",
                 "config/fastdds_shm_big.xml", "config/rviz/m2h.rviz",
                 "config/hydra/nyu40_label_space.yaml", "config/hydra/synthetic_colormap.csv"):  # fmt: skip
        assert (share / name).is_file(), name
    assert (install / "share" / "ament_index" / "resource_index" / "packages" / "m2h_ros").is_file()
    for space in (share / "config" / "hydra").glob("*_label_space.yaml"):  # Hydra opens it from its own cwd
        colormap = Path(yaml.safe_load(space.read_text())["semantic_colormap_file"])
        assert colormap.is_absolute() and colormap.is_file() and colormap.parent == space.parent, space
    package = install / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages" / "m2h_ros"
    assert list((package / "msg").glob("_scene_graph.py")) and list((package / "weights").glob("*.safetensors"))


def test_installed_package_is_the_one_imported_and_finds_its_share_directory(install, tmp_path):
    probe = ("import m2h_ros.cli, m2h_ros.msg; from ament_index_python.packages import get_package_share_directory; "
             "print(m2h_ros.cli.__file__); print(m2h_ros.msg.__file__); print(get_package_share_directory('m2h_ros'))")  # fmt: skip
    proc = _in_workspace(install, f'python3 -c "{probe}"', dict(os.environ), cwd=tmp_path, stdout=subprocess.PIPE)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0
    cli, msg, share = out.split()
    assert Path(cli).is_relative_to(install) and Path(msg).is_relative_to(install)
    assert Path(share) == install / "share" / "m2h_ros"


def test_installed_node_starts_with_its_installed_parameters(install, tmp_path, ros_env):
    params = install / "share" / "m2h_ros" / "config" / "perception.yaml"
    node = _in_workspace(install, f"{install}/lib/m2h_ros/perception_node --ros-args --params-file {params}", ros_env,
                         cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    lines, deadline = [], time.monotonic() + 120
    try:
        while time.monotonic() < deadline and not any("ready:" in line for line in lines):
            line = node.stdout.readline()
            if not line:
                break
            lines.append(line)
        assert any("ready:" in line for line in lines), "".join(lines)
        assert "m2h_lite_synthetic.safetensors" in lines[-1]
        node.send_signal(signal.SIGINT)
        assert node.wait(timeout=30) == 0, "".join(lines) + node.stdout.read()
    finally:
        if node.poll() is None:
            node.kill()
