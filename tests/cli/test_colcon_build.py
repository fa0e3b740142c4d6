"""CI: the package builds with colcon, plainly and with ``--symlink-install``, as on a robot.

Each test copies the package into a temporary colcon workspace as ``src/anima`` (only what git
tracks or would track: the sources, not ``.venv``), builds it with the colcon of this venv
(``colcon-common-extensions``, pinned in requirements.txt), sources ``install/setup.bash`` and
checks what a ROS developer relies on: ``import anima`` resolves to the workspace's copy, an
installed node runs from ``install/anima/lib/anima/`` and finds its configuration, and
``share/anima`` holds package.xml, launch/, config/, urdf/ and the ament index marker.
About 5 s per build.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.colcon, pytest.mark.slow]
_IGNORE = shutil.ignore_patterns(".venv", ".git", "__pycache__", "*.egg-info", "build", "install", "log", "runs", ".pytest_cache")


@pytest.fixture(scope="module")
def colcon() -> Path:
    exe = Path(sys.executable).parent / "colcon"
    if not exe.is_file():
        pytest.fail(f"colcon not installed in this venv ({exe}): run bash scripts/setup_venv.sh")
    return exe


def _build(colcon: Path, ws: Path, *flags: str) -> Path:
    shutil.copytree(REPO, ws / "src" / "anima", ignore=_IGNORE, symlinks=True)
    out = subprocess.run(
        [str(colcon), "build", *flags, "--event-handlers", "console_direct-"],
        cwd=ws, capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, f"colcon build {' '.join(flags)} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return ws / "install"


def _in_workspace(install: Path, ros_env: dict[str, str], command: str, **kw) -> subprocess.Popen:
    """Run ``command`` in bash after sourcing the workspace, from / (not the source tree)."""
    env = dict(ros_env)
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    env.pop("PYTHONPATH", None)
    return subprocess.Popen(
        ["bash", "-c", f". {install}/setup.bash && {command}"],
        cwd="/", env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw,
    )


def _check_share(install: Path) -> None:
    share = install / "anima" / "share" / "anima"
    assert (share / "package.xml").is_file()
    assert (share / "plugin.xml").is_file(), "the rqt plugin description (package.xml exports ${prefix}/plugin.xml)"
    for folder, example in (("launch", "laikago_sim.launch.xml"), ("config", "robots/laikago.yaml"),
                            ("urdf", "shadowhand.urdf")):
        assert (share / folder / example).is_file(), f"share/anima/{folder} lacks {example}"
    assert (install / "anima" / "share" / "ament_index" / "resource_index" / "packages" / "anima").is_file()


def _check_import(install: Path, ros_env: dict[str, str], expect_under: Path) -> None:
    code = "import anima, anima.ros_nodes.pd_controller, anima.models.pddm.runtime; print(anima.__file__)"
    proc = _in_workspace(install, ros_env, f'python -c "{code}"')
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    # the workspace's anima, not the venv's editable install of the checkout
    assert out.strip().splitlines()[-1].startswith(str(expect_under)), out


def _check_node_runs(install: Path, ros_env: dict[str, str]) -> None:
    """pd_controller from lib/anima starts (reads config/robots/laikago.yaml), then stops on SIGINT."""
    exe = install / "anima" / "lib" / "anima" / "pd_controller"
    assert exe.is_file(), f"no console script at {exe}"
    proc = _in_workspace(install, ros_env, f"exec {exe} --ros-args -p robot:=laikago", start_new_session=True)
    lines = []
    try:
        for line in proc.stdout:  # waits on the node's start-up log line, not on a timer
            lines.append(line)
            if "robot laikago: 12 joints" in line:
                break
        else:
            pytest.fail(f"pd_controller exited {proc.wait()} before starting:\n{''.join(lines)}")
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, "".join(lines) + rest


def test_colcon_build_installs_a_runnable_package(colcon, ros_env, tmp_path) -> None:
    install = _build(colcon, tmp_path)
    _check_share(install)
    site = install / "anima" / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    _check_import(install, ros_env, site)
    _check_node_runs(install, ros_env)


def test_colcon_symlink_install_maps_every_subpackage(colcon, ros_env, tmp_path) -> None:
    install = _build(colcon, tmp_path, "--symlink-install")
    _check_share(install)
    assert (install / "anima" / "share" / "anima" / "package.xml").is_symlink()
    _check_import(install, ros_env, tmp_path / "build" / "anima")
    # no bare top-level `controllers` or `models` beside the mapped package
    for bare in ("controllers", "models", "cli", "ros_nodes", "sim_bridge"):
        assert not (tmp_path / "build" / "anima" / bare).exists(), f"bare '{bare}' on the workspace's PYTHONPATH"
    # an edit in the source tree takes effect without a rebuild
    src_init = tmp_path / "src" / "anima" / "controllers" / "__init__.py"
    src_init.write_text(src_init.read_text() + "\nSYMLINK_PROBE = 1\n")
    proc = _in_workspace(install, ros_env, 'python -c "import anima.controllers as c; print(c.SYMLINK_PROBE)"')
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0 and out.strip().endswith("1"), out
    _check_node_runs(install, ros_env)
