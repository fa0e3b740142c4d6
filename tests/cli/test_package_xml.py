"""package.xml: every rosdep key exists, everything imported is declared, nothing unused is.

Known keys are kept in ``tests/cli/rosdep_keys.txt`` with their source (rosdistro's
``jazzy/distribution.yaml`` and ``rosdep/python.yaml``), since rosdep cannot be asked here.
"""

from __future__ import annotations

import ast
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SOURCES = ("cli", "controllers", "sim_bridge", "models", "ros_nodes")
DEPEND_TAGS = ("depend", "exec_depend", "build_depend", "build_export_depend", "test_depend")

# Python import name -> rosdep key (rosdep/python.yaml)
PYTHON_KEYS = {
    "numpy": "python3-numpy",
    "scipy": "python3-scipy",
    "yaml": "python3-yaml",
    "cv2": "python3-opencv",
    "transforms3d": "python3-transforms3d",
    "pybullet": "python3-pybullet-pip",
    "pybullet_utils": "python3-pybullet-pip",
    "pybullet_data": "python3-pybullet-pip",
    "torch": "python3-torch",
    "gymnasium": "python3-gymnasium-pip",
    "matplotlib": "python3-matplotlib",
    "tensorboard": "python3-tensorboard-pip",
    "stable_baselines3": "python3-stable-baselines3-pip",
    "rosbags": "python3-rosbags-pip",
    "imageio": "python3-imageio",
    "PyQt5": "python3-qt5-bindings",
    "python_qt_binding": "python_qt_binding",
    "rqt_gui_py": "rqt_gui_py",
}


# Imports with no rosdep key in rosdep/python.yaml: installed from PyPI (requirements.txt pins
# them) and named in a package.xml comment.
PIP_ONLY = {"foxglove", "ray"}


def _known_keys() -> set[str]:
    lines = (REPO / "tests" / "cli" / "rosdep_keys.txt").read_text(encoding="utf-8").splitlines()
    return {line.split("#")[0].strip() for line in lines} - {""}


def _declared(tags: tuple[str, ...] = DEPEND_TAGS) -> list[str]:
    root = ET.parse(REPO / "package.xml").getroot()
    return [el.text.strip() for tag in tags for el in root.iter(tag)]


def _is_ros_interface_or_client(module: str) -> bool:
    return module == "rclpy" or module.endswith(("_msgs", "_srvs", "_interfaces"))


def _imported_modules() -> set[str]:
    """Top-level modules the installed code imports (``torch.utils.tensorboard`` counts as tensorboard)."""
    found: set[str] = set()
    for folder in SOURCES:
        for path in (REPO / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    found.add("tensorboard" if name.startswith("torch.utils.tensorboard") else name.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"anima"}


def test_every_rosdep_key_is_known() -> None:
    unknown = sorted(set(_declared()) - _known_keys())
    assert not unknown, f"package.xml uses rosdep keys not in tests/cli/rosdep_keys.txt: {unknown}"


def test_known_keys_exclude_the_nonexistent_torch_pip_key() -> None:
    # rosdep/python.yaml has python3-torch; python3-torch-pip does not exist (issue 21)
    assert "python3-torch-pip" not in _known_keys()


def test_everything_imported_is_declared() -> None:
    declared = set(_declared())
    imported = _imported_modules()
    unmapped = sorted(m for m in imported - PIP_ONLY if not _is_ros_interface_or_client(m) and m not in PYTHON_KEYS)
    assert not unmapped, f"imports without a rosdep key mapping in this test: {unmapped}"
    needed = {m if _is_ros_interface_or_client(m) else PYTHON_KEYS[m] for m in imported - PIP_ONLY}
    missing = sorted(needed - declared)
    assert not missing, f"package.xml lacks dependencies the code imports: {missing}"


def test_pip_only_imports_are_pinned_and_named() -> None:
    req = (REPO / "requirements.txt").read_text(encoding="utf-8")
    xml = (REPO / "package.xml").read_text(encoding="utf-8")
    assert "foxglove-sdk==" in req and "foxglove-sdk" in xml
    assert "ray==" in req and "pip install ray" in xml


def test_no_unused_ros_interface_dependency() -> None:
    imported = _imported_modules()
    unused = sorted(k for k in _declared() if _is_ros_interface_or_client(k) and k not in imported)
    assert not unused, f"package.xml declares ROS packages nothing imports: {unused}"


def test_requirements_pin_a_wheel_for_each_ros_interface() -> None:
    # developer machines and CI get the message packages from pinned ros-jazzy-* wheels
    req = (REPO / "requirements.txt").read_text(encoding="utf-8")
    pinned = {line.split("==")[0].split("[")[0].strip() for line in req.splitlines() if "==" in line}
    for key in _declared(("exec_depend", "depend")):
        if key.endswith(("_msgs", "_srvs")):
            assert f"ros-jazzy-{key.replace('_', '-')}" in pinned, f"requirements.txt does not pin the wheel of {key}"
    assert "ros-jazzy-trajectory-msgs" not in pinned, "trajectory_msgs is unused: its wheel should not be pinned"
