"""Install the ``anima`` import package from the design card's top-level folders.

Each top-level source folder becomes a sub-package of ``anima`` (``controllers/`` ->
``anima.controllers`` and so on), so no bare ``models`` or ``controllers`` module lands on a
shared ``sys.path``. The root package itself (the ``anima`` CLI and ``anima launch``) lives in
``cli/``. ``pip install -e .`` works through setuptools' editable mapping finder.
"""

import os
from glob import glob

from setuptools import setup

PACKAGE = "anima"
SUBPACKAGES = ("controllers", "sim_bridge", "models", "ros_nodes")


def _nodes() -> list[str]:
    """Every ``ros_nodes/<name>.py`` with a top-level ``def main(`` is node ``<name>``."""
    names = []
    for fname in sorted(os.listdir("ros_nodes")):
        if fname.endswith(".py") and not fname.startswith("_"):
            with open(os.path.join("ros_nodes", fname), encoding="utf-8") as f:
                if "\ndef main(" in f.read():
                    names.append(fname[:-3])
    return names


def _packages() -> tuple[list[str], dict[str, str]]:
    """Every folder with an ``__init__.py`` under the mapped roots, with its import name."""
    roots = {PACKAGE: "cli", **{f"{PACKAGE}.{sub}": sub for sub in SUBPACKAGES}}
    packages: list[str] = []
    package_dir: dict[str, str] = {}
    for name, folder in roots.items():
        package_dir[name] = folder
        for dirpath, _dirs, files in os.walk(folder):
            if "__init__.py" in files:
                rel = os.path.relpath(dirpath, folder)
                packages.append(name if rel == "." else f"{name}.{rel.replace(os.sep, '.')}")
    return sorted(packages), package_dir


def _share_files() -> list[tuple[str, list[str]]]:
    """``launch/``, ``config/`` and ``urdf/`` (recursively) into ``share/anima``."""
    out = [
        ("share/ament_index/resource_index/packages", ["resource/anima"]),
        (f"share/{PACKAGE}", ["package.xml"]),
    ]
    for top in ("launch", "config", "urdf"):
        for dirpath, _dirs, files in os.walk(top):
            if files:
                out.append((f"share/{PACKAGE}/{dirpath}", [os.path.join(dirpath, f) for f in files]))
    return out


packages, package_dir = _packages()

setup(
    name=PACKAGE,
    version="0.1.0",
    description="ROS 2 robot control stack that teaches robots agile skills with learning",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=packages,
    package_dir=package_dir,
    package_data={"": [f"{d}*.{ext}" for d in ("", "data/") for ext in ("json", "yaml", "pt", "npz", "csv", "png")]},
    include_package_data=True,
    data_files=_share_files(),
    zip_safe=False,
    entry_points={
        "console_scripts": [f"{node} = {PACKAGE}.ros_nodes.{node}:main" for node in _nodes()]
        + [f"{PACKAGE} = {PACKAGE}.main:main"],
    },
)
