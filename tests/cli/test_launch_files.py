"""Every launch file of the project stays inside the subset both ``ros2 launch`` and ``anima launch`` run.

The check is the parser itself: it rejects any tag, attribute or substitution outside the subset
(on every branch, whatever the conditions), so a file that parses with its default arguments is
in the subset. The fixture files are checked too, so this module never passes vacuously.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from anima.launcher import LaunchError, parse_launch_file
from anima.launcher.xml_tree import read_launch_xml

REPO = Path(__file__).resolve().parents[2]
FIX = Path(__file__).resolve().parent / "launch_fixtures"
PROJECT_FILES = sorted((REPO / "launch").glob("*.launch.xml"))
# Fixture files that parse with their default arguments (args.launch.xml needs mode:=...).
FIXTURE_DEFAULTS = [FIX / n for n in ("conditions.launch.xml", "namespaces.launch.xml", "include_parent.launch.xml",
                                      "env_params.launch.xml", "runner_two.launch.xml")]
ALL_FILES = PROJECT_FILES + sorted(FIX.rglob("*.launch.xml"))


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def test_there_are_files_to_check() -> None:
    assert len(ALL_FILES) >= len(FIXTURE_DEFAULTS) + 2  # fixtures exist even before launch/ has files


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_launch_file_uses_only_the_subset(path: Path) -> None:
    read_launch_xml(path)  # raises LaunchError (file, line, tag) on anything outside the subset


@pytest.mark.parametrize("path", PROJECT_FILES + FIXTURE_DEFAULTS, ids=lambda p: str(p.relative_to(REPO)))
def test_launch_file_parses_with_default_args(path: Path) -> None:
    specs = parse_launch_file(path, {}, _env())
    assert specs, f"{path} starts no process"
    for spec in specs:
        assert Path(spec.executable).is_absolute() and spec.ros_arguments[0] == "--ros-args"


# Each body puts the offending element on line 3 of the file (line 1 <launch>, line 2 an <arg>).
OUT_OF_SUBSET = [
    ('<executable cmd="ls"/>', "executable", "outside the launch subset"),
    ('<timer period="1.0"><node exec="python3"/></timer>', "timer", "outside the launch subset"),
    ('<node_container pkg="rclcpp_components" exec="component_container" name="c" namespace=""/>',
     "node_container", "outside the launch subset"),
    ('<node exec="python3"><env name="A" value="1"/></node>', "env", "outside the launch subset"),
    ('<frobnicate/>', "frobnicate", "unknown tag"),
    ('<node exec="python3" respawn="true"/>', "node", "unsupported attribute(s) respawn"),
    ('<node exec="python3" on_exit="restart"/>', "node", "attribute on_exit: 'restart' is outside the subset"),
    ('<group forwarding="false"/>', "group", "unsupported attribute(s) forwarding"),
    ('<arg name="y" value="1"/>', "arg", "unsupported attribute(s) value"),
    ('<node exec="python3"><param name="p"><param name="q" value="1"/></param></node>', "param",
     "takes no child elements"),
    ('<node exec="$(command which python3)"/>', "node", "substitution $(command ...) is outside"),
    ('<let name="v" value="$(eval 1 + 1)"/>', "let", "substitution $(eval ...) is outside"),
    ('<let name="v" value="$(find-pkg-prefix anima)"/>', "let", "substitution $(find-pkg-prefix ...) is outside"),
    ('<let name="v" value="$(nosuch x)"/>', "let", "unknown substitution"),
    ('<let name="v" value="$(var x"/>', "let", "unterminated substitution"),
    ('<let name="v" value="$(var undefined_here)"/>', "let", "'undefined_here' is not defined"),
    ('<include file="$(dirname)/missing.launch.xml"/>', "include", "does not exist"),
]


@pytest.mark.parametrize(("body", "tag", "message"), OUT_OF_SUBSET, ids=[b[1] + "-" + b[2][:20] for b in OUT_OF_SUBSET])
def test_out_of_subset_is_rejected_with_file_line_and_tag(tmp_path: Path, body: str, tag: str, message: str) -> None:
    path = tmp_path / "bad.launch.xml"
    path.write_text(f'<launch>\n<arg name="x" default="1"/>\n{body}\n</launch>\n')
    with pytest.raises(LaunchError) as err:
        parse_launch_file(path, {}, _env())
    text = str(err.value)
    assert text.startswith(f"{path}:3: <{tag}>: "), text
    assert message in text, text


def test_rejected_even_on_a_branch_not_taken(tmp_path: Path) -> None:
    path = tmp_path / "branch.launch.xml"
    path.write_text('<launch>\n<group if="false">\n  <timer period="1"/>\n</group>\n</launch>\n')
    with pytest.raises(LaunchError, match=r"branch.launch.xml:3: <timer>: "):
        parse_launch_file(path, {}, _env())


@pytest.mark.parametrize(("text", "line"), [
    ("<launch>\n<node exec='a'>\n</launch>\n", 3),  # mismatched tag
    ("<launch>\n<arg name='a' name='b'/>\n</launch>\n", 2),  # duplicate attribute
    ("", 1),  # no element
])
def test_malformed_xml_names_file_and_line(tmp_path: Path, text: str, line: int) -> None:
    path = tmp_path / "broken.launch.xml"
    path.write_text(text)
    with pytest.raises(LaunchError, match=rf"broken.launch.xml:{line}: .*malformed XML"):
        parse_launch_file(path, {}, _env())


def test_root_must_be_launch(tmp_path: Path) -> None:
    path = tmp_path / "root.launch.xml"
    path.write_text("<robot/>")
    with pytest.raises(LaunchError, match=r"root.launch.xml:1: <robot>: the root element"):
        parse_launch_file(path, {}, _env())


def test_on_exit_shutdown_is_in_the_subset_and_on_the_monitor(tmp_path: Path) -> None:
    path = tmp_path / "ok.launch.xml"
    path.write_text('<launch>\n<node exec="python3" name="a" on_exit="shutdown"/>\n<node exec="python3" name="b"/>\n</launch>\n')
    assert [s.on_exit for s in parse_launch_file(path, {}, _env())] == ["shutdown", None]
    # The monitor ends a monitored run under ros2 launch too (issue 20, item 17).
    specs = parse_launch_file(REPO / "launch" / "laikago_sim.launch.xml", {"monitor": "true"}, _env())
    assert {s.name: s.on_exit for s in specs}["stack_monitor"] == "shutdown"
