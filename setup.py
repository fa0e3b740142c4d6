"""Install the ``anima`` import package from the design card's top-level folders.

Each top-level source folder becomes a sub-package of ``anima`` (``controllers/`` ->
``anima.controllers`` and so on), so no bare ``models`` or ``controllers`` module lands on a
shared ``sys.path``. The root package itself (the ``anima`` CLI and ``anima launch``) lives in
``cli/``. ``pip install -e .`` works through setuptools' editable mapping finder.
"""

import os

from setuptools import setup
from setuptools.command.develop import develop

PACKAGE = "anima"
SUBPACKAGES = ("controllers", "sim_bridge", "models", "ros_nodes")
# The source tree: ``colcon build --symlink-install`` runs this file from the build folder through
# a symlink, so folders are found from the file's real location; paths given to setuptools stay
# relative to the working directory, as setuptools requires.
HERE = os.path.dirname(os.path.realpath(__file__))


def _nodes() -> list[str]:
    """Every ``ros_nodes/<name>.py`` with a top-level ``def main(`` is node ``<name>``."""
    names = []
    for fname in sorted(os.listdir(os.path.join(HERE, "ros_nodes"))):
        if fname.endswith(".py") and not fname.startswith("_"):
            with open(os.path.join(HERE, "ros_nodes", fname), encoding="utf-8") as f:
                if "\ndef main(" in f.read():
                    names.append(fname[:-3])
    return names


def _packages() -> tuple[list[str], dict[str, str]]:
    """Every folder with an ``__init__.py`` under the mapped roots, with its import name."""
    roots = {PACKAGE: "cli", **{f"{PACKAGE}.{sub}": sub for sub in SUBPACKAGES}}
    packages: list[str] = []
    package_dir: dict[str, str] = {}
    # From a colcon build folder (symlink install) the sub-package folders are not beside this
    # file; there they are named by their path in the source tree.
    in_source = os.path.realpath(os.getcwd()) == HERE
    for name, folder in roots.items():
        package_dir[name] = folder if in_source else os.path.join(HERE, folder)
        for dirpath, _dirs, files in os.walk(os.path.join(HERE, folder)):
            if "__init__.py" in files:
                rel = os.path.relpath(dirpath, os.path.join(HERE, folder))
                packages.append(name if rel == "." else f"{name}.{rel.replace(os.sep, '.')}")
    return sorted(packages), package_dir


def _share_files() -> list[tuple[str, list[str]]]:
    """package.xml, plugin.xml (the rqt panel), ``launch/``, ``config/`` and ``urdf/`` (recursively) into ``share/anima``."""
    out = [
        ("share/ament_index/resource_index/packages", ["resource/anima"]),
        (f"share/{PACKAGE}", ["package.xml", "plugin.xml"]),
    ]
    for top in ("launch", "config", "urdf"):
        for dirpath, _dirs, files in os.walk(os.path.join(HERE, top)):
            rel = os.path.relpath(dirpath, HERE)
            if files:
                out.append((f"share/{PACKAGE}/{rel}", [os.path.join(rel, f) for f in sorted(files)]))
    return out


class DevelopWithPackageTree(develop):
    """``setup.py develop`` (``colcon build --symlink-install``) that also maps the sub-packages.

    colcon puts the build folder on ``PYTHONPATH`` and links ``anima`` -> ``cli`` there, but a
    develop install has no way to map ``anima.controllers`` -> ``controllers`` and so on. This
    replaces that link with a folder of links: each entry of ``cli/`` plus one link per
    sub-package, all pointing into the source tree, so edits take effect without a rebuild and
    no bare ``controllers`` or ``models`` lands on ``sys.path``. Outside a colcon build folder
    (no ``anima`` link next to this file) it is the plain develop command.
    """

    def install_for_development(self) -> None:
        super().install_for_development()
        tree = os.path.join(os.getcwd(), PACKAGE)
        if os.path.realpath(os.getcwd()) == HERE or not os.path.lexists(tree):
            return
        if os.path.islink(tree):
            os.unlink(tree)
        os.makedirs(tree, exist_ok=True)
        links = {name: os.path.join(HERE, "cli", name) for name in os.listdir(os.path.join(HERE, "cli"))}
        links.update({sub: os.path.join(HERE, sub) for sub in SUBPACKAGES})
        for name, target in sorted(links.items()):
            if name == "__pycache__":
                continue
            link = os.path.join(tree, name)
            if os.path.lexists(link):
                os.unlink(link)
            os.symlink(target, link)


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
    cmdclass={"develop": DevelopWithPackageTree},
    entry_points={
        "console_scripts": [f"{node} = {PACKAGE}.ros_nodes.{node}:main" for node in _nodes()]
        + [f"{PACKAGE} = {PACKAGE}.main:main"],
    },
)
