"""Package layout: cores import without ROS; the CLI lists its commands."""

from __future__ import annotations

import subprocess
import sys

CORES = ("anima.controllers", "anima.sim_bridge", "anima.models")


def test_cores_import_without_rclpy() -> None:
    # A fresh interpreter imports every module of the cores, then checks no ROS module was loaded.
    code = (
        "import importlib, pkgutil, sys\n"
        f"for root in {CORES!r}:\n"
        "    pkg = importlib.import_module(root)\n"
        "    for info in pkgutil.walk_packages(pkg.__path__, root + '.'):\n"
        "        importlib.import_module(info.name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'rclpy' or m.split('.')[0].endswith('_msgs') or m.split('.')[0].endswith('_srvs'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"cores loaded ROS modules: {out.stdout.strip()}"


def test_anima_cli_help_lists_commands() -> None:
    out = subprocess.run([sys.executable, "-P", "-m", "anima", "--help"], capture_output=True, text=True, check=True)
    assert "bench" in out.stdout


def test_cores_and_nodes_do_not_import_the_cli_root_package() -> None:
    # share_dir lives in anima.controllers.paths; the root package (the CLI) re-exports it
    import ast
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    offenders = []
    for folder in ("controllers", "sim_bridge", "models", "ros_nodes"):
        for path in (repo / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and node.module == "anima":
                    offenders.append(f"{path.relative_to(repo)}:{node.lineno}")
    assert not offenders, f"cores importing from the anima root (CLI) package: {offenders}"


def test_root_package_reexports_the_core_share_dir() -> None:
    import anima
    from anima.controllers.paths import share_dir

    assert anima.share_dir is share_dir and (share_dir() / "package.xml").is_file()


def test_no_node_imports_another_node() -> None:
    # shared message code lives in ros_nodes/_conversions.py (and other _private modules), not in a node
    import ast
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    nodes = {p.stem for p in (repo / "ros_nodes").glob("*.py") if not p.stem.startswith("_")}
    offenders = []
    for path in (repo / "ros_nodes").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("anima.ros_nodes."):
                if node.module.rsplit(".", 1)[1] in nodes:
                    offenders.append(f"{path.name} imports {node.module}")
    assert not offenders, offenders
