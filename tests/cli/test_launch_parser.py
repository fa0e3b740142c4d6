"""``anima.launcher`` parser: launch files -> ordered process specs (no process is started here).

Expected argv lists are written out by hand from the fixture files in ``launch_fixtures/`` and the
launch_ros rules: ``exec args --ros-args -r __node:= -r __ns:= (-p | --params-file in document
order) -r from:=to``; a relative namespace goes under the pushed one, an absolute one replaces it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from anima.launcher import LaunchError, ProcessSpec, parse_launch_args, parse_launch_file
from anima.launcher.substitutions import Substitution, SubstitutionError, parse_template

FIX = Path(__file__).resolve().parent / "launch_fixtures"
VENV_BIN = Path(sys.executable).parent
PY3 = str(VENV_BIN / "python3")


@pytest.fixture
def env() -> dict[str, str]:
    """A launcher environment where ``python3`` resolves to this venv's interpreter."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("ANIMA_TEST_")}
    base.pop("ROS_AUTOMATIC_DISCOVERY_RANGE", None)
    base["PATH"] = f"{VENV_BIN}{os.pathsep}{base.get('PATH', '')}"
    return base


def _share(_pkg: str, _env: object) -> Path:
    return Path("/opt/share/anima")


def _by_name(specs: list[ProcessSpec]) -> dict[str, ProcessSpec]:
    return {s.name: s for s in specs}


def test_arg_defaults_lets_and_concatenation(env: dict[str, str]) -> None:
    specs = parse_launch_file(FIX / "args.launch.xml", {"mode": "walk"}, env, find_pkg_share=_share)
    assert len(specs) == 1
    # config = $(find-pkg-share anima)/config/$(var robot).yaml with robot defaulting to laikago;
    # label = $(var robot)_$(var mode).
    assert specs[0].argv == [
        PY3, str(FIX / "fake_node.py"), "--code", "0",
        "--ros-args", "-r", "__node:=bridge",
        "-p", "rate_hz:=500", "-p", "config:=/opt/share/anima/config/laikago.yaml", "-p", "label:=laikago_walk",
    ]
    assert specs[0].parameters == (("rate_hz", "500"), ("config", "/opt/share/anima/config/laikago.yaml"),
                                   ("label", "laikago_walk"))
    assert specs[0].namespace is None and specs[0].node_name == "bridge"


def test_command_line_overrides_defaults(env: dict[str, str]) -> None:
    args = parse_launch_args(["robot:=sawyer", "rate_hz:=1000", "mode:=push"])
    (spec,) = parse_launch_file(FIX / "args.launch.xml", args, env, find_pkg_share=_share)
    assert spec.parameters == (("rate_hz", "1000"), ("config", "/opt/share/anima/config/sawyer.yaml"),
                               ("label", "sawyer_push"))


def test_required_arg_missing_names_file_line_and_tag(env: dict[str, str]) -> None:
    with pytest.raises(LaunchError) as err:
        parse_launch_file(FIX / "args.launch.xml", {}, env)
    # <arg name="mode"> is on line 5 of args.launch.xml.
    assert str(err.value).startswith(f"{FIX / 'args.launch.xml'}:5: <arg>: ")
    assert "'mode'" in str(err.value) and "mode:=VALUE" in str(err.value)


def test_undeclared_command_line_arg_is_an_error(env: dict[str, str]) -> None:
    with pytest.raises(LaunchError, match="robt"):
        parse_launch_file(FIX / "args.launch.xml", {"mode": "x", "robt": "typo"}, env)


def test_parse_launch_args_rejects_items_without_separator() -> None:
    assert parse_launch_args(["a:=b:=c", "empty:="]) == {"a": "b:=c", "empty": ""}
    with pytest.raises(ValueError, match="robot=x"):
        parse_launch_args(["robot=x"])


@pytest.mark.parametrize(("args", "expected"), [
    ({}, ["headless", "sim_only"]),  # gui=false, sim=1; 'never' has unless="1"
    ({"gui": "TRUE"}, ["viewer", "sim_only"]),  # case-insensitive
    ({"gui": "1", "sim": "False"}, ["viewer"]),
    ({"gui": "0", "sim": "0"}, ["headless"]),
])
def test_if_unless(env: dict[str, str], args: dict[str, str], expected: list[str]) -> None:
    assert [s.name for s in parse_launch_file(FIX / "conditions.launch.xml", args, env)] == expected


@pytest.mark.parametrize("bad", ["yes", "", "2", "truee"])
def test_non_boolean_condition_is_an_error(env: dict[str, str], bad: str) -> None:
    with pytest.raises(LaunchError) as err:
        parse_launch_file(FIX / "conditions.launch.xml", {"gui": bad}, env)
    # The first <group if="$(var gui)"> is on line 4.
    assert f"conditions.launch.xml:4: <group>: attribute if: {bad!r} is not a boolean" in str(err.value)


def test_namespaces(env: dict[str, str]) -> None:
    specs = _by_name(parse_launch_file(FIX / "namespaces.launch.xml", {}, env))
    expected = {
        "root_node": None,  # nothing pushed, no namespace attribute: no __ns remap at all
        "plain": "/robot",  # pushed relative 'robot' made absolute
        "relative": "/robot/legs",
        "absolute": "/world",  # absolute node namespace ignores the pushed one
        "nested": "/robot/arm/wrist",  # push 'arm' inside the group, node namespace 'wrist'
        "repushed": "/other",  # pushing an absolute namespace replaces the current one
        "after_group": "/robot",  # the scoped group popped 'arm' and '/other'
    }
    assert {name: s.namespace for name, s in specs.items()} == expected
    assert specs["root_node"].ros_arguments == ("--ros-args", "-r", "__node:=root_node")
    assert specs["nested"].ros_arguments == ("--ros-args", "-r", "__node:=nested", "-r", "__ns:=/robot/arm/wrist")


def test_include_with_args_dirname_and_group_scope(env: dict[str, str]) -> None:
    child, parent = parse_launch_file(FIX / "include_parent.launch.xml", {"robot": "hand"}, env)
    assert child.name == "child_node" and parent.name == "parent_node"
    # The include sits in a group that pushed $(var robot); the child's $(dirname) is sub/.
    assert child.argv == [
        PY3, "--ros-args", "-r", "__node:=child_node", "-r", "__ns:=/hand",
        "-p", "who:=hand_child", "-p", f"here:={FIX / 'sub'}", "--params-file", f"{FIX / 'sub'}/../params.yaml",
    ]
    assert child.params_files == (f"{FIX / 'sub'}/../params.yaml",)
    assert child.source == f"{FIX / 'sub' / 'include_child.launch.xml'}:3"
    assert parent.namespace is None and parent.parameters == (("robot", "hand"),)


def test_include_args_leak_without_group_like_launch(tmp_path: Path, env: dict[str, str]) -> None:
    # launch's IncludeLaunchDescription sets its <arg>s as launch configurations of the current
    # scope, and the included file's <let> also persists; only <group> scopes.
    (tmp_path / "child.launch.xml").write_text(
        '<launch><arg name="x"/><let name="from_child" value="c$(var x)"/></launch>')
    (tmp_path / "top.launch.xml").write_text(
        '<launch><include file="$(dirname)/child.launch.xml"><arg name="x" value="1"/></include>'
        '<node exec="python3" name="n"><param name="v" value="$(var x)$(var from_child)"/></node></launch>')
    (spec,) = parse_launch_file(tmp_path / "top.launch.xml", {}, env)
    assert spec.parameters == (("v", "1c1"),)


def test_env_params_files_and_remaps(env: dict[str, str]) -> None:
    scoped, talker = parse_launch_file(FIX / "env_params.launch.xml", {}, env)
    assert scoped.env is not None and scoped.env["ANIMA_TEST_SCOPED"] == "inside"
    assert talker.env is not None and "ANIMA_TEST_SCOPED" not in talker.env  # group restored the env
    assert talker.env["ANIMA_TEST_COLOR"] == "blue"
    assert talker.env["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST"
    assert talker.env["PYTHONUNBUFFERED"] == "1"
    assert talker.env["PATH"] == env["PATH"]  # inherits the launcher's environment
    assert dict(talker.env_overrides) == {"ANIMA_TEST_COLOR": "blue", "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST",
                                          **({} if env.get("PYTHONUNBUFFERED") == "1" else {"PYTHONUNBUFFERED": "1"})}
    # Params in document order (the file's gain 2.5 is overridden by the later -p gain:=3.0);
    # $(env X) sees <set_env>; $(env UNSET 'fallback value') uses the quoted default.
    assert talker.ros_arguments == (
        "--ros-args", "-r", "__node:=talker",
        "-p", "color:=blue", "-p", "home:=fallback value", "--params-file", str(FIX / "params.yaml"),
        "-p", "gain:=3.0", "-r", "joint_states:=/sim/joint_states", "-r", "cmd:=blue/cmd",
    )
    assert talker.remaps == (("joint_states", "/sim/joint_states"), ("cmd", "blue/cmd"))


def test_discovery_range_from_environment_is_kept(env: dict[str, str]) -> None:
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "SUBNET"
    _, talker = parse_launch_file(FIX / "env_params.launch.xml", {}, env)
    assert talker.env is not None and talker.env["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "SUBNET"


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "t.launch.xml"
    path.write_text(f"<launch>\n{body}\n</launch>\n")
    return path


def test_anima_executables_resolve_in_the_venv_bin(tmp_path: Path, env: dict[str, str]) -> None:
    # No <prefix>/lib/anima/python exists, so the folder of sys.executable is next.
    (spec,) = parse_launch_file(_write(tmp_path, '<node pkg="anima" exec="python" name="n"/>'), {}, env)
    assert spec.executable == str(VENV_BIN / "python") and spec.package == "anima"


def test_unknown_executable_is_an_error(tmp_path: Path, env: dict[str, str]) -> None:
    path = _write(tmp_path, '<node pkg="anima" exec="no_such_node_xyz" name="n"/>')
    with pytest.raises(LaunchError) as err:
        parse_launch_file(path, {}, env)
    assert str(err.value).startswith(f"{path}:2: <node>: executable 'no_such_node_xyz' of package 'anima' not found")


@pytest.mark.parametrize(("body", "message"), [
    ('<node exec="python3" name="bad-name"/>', "not a valid node name"),
    ('<node exec="python3" name="n" namespace="a//b"/>', "not a valid namespace"),
    ('<node exec="python3" name="n" output="file"/>', "attribute output"),
    ('<node exec="python3" name="n" args="\'unterminated"/>', "attribute args"),
    ('<node exec="python3" name="n"><param from="params.yaml"/></node>', "is relative"),
    ('<node exec="python3" name="n"><param from="/nonexistent/p.yaml"/></node>', "does not exist"),
    ('<node exec="python3" name="n"><param name="a"/></node>', "either name and value, or from"),
    # rcl refuses these -p values (checked against rcl: "Couldn't parse parameter override rule").
    ('<node exec="python3" name="n"><param name="a" value="-"/></node>', "quote it to pass a string"),
    ('<node exec="python3" name="n"><param name="a" value=""/></node>', "empty value"),
    ('<node exec="python3" name="n"><param name="a" value="k: v"/></node>', "reads as YAML dict"),
    ('<include file="/nonexistent/x.launch.xml"/>', "does not exist"),
    ('<include file="x.launch.xml"/>', "is relative"),
    ('<node exec="python3" name="n" if="true" unless="false"/>', "cannot be used together"),
    ('<push-ros-namespace namespace="9bad"/>', "resulting namespace is invalid"),
    ('<node exec="python3" name="$(var nope)"/>', "launch configuration 'nope' is not defined"),
    ('<node exec="python3" name="$(env ANIMA_TEST_NOT_SET)"/>', "does not exist"),
])
def test_invalid_nodes_name_line_and_problem(tmp_path: Path, env: dict[str, str], body: str, message: str) -> None:
    path = _write(tmp_path, body)
    with pytest.raises(LaunchError) as err:
        parse_launch_file(path, {}, env)
    assert str(err.value).startswith(f"{path}:2: <"), str(err.value)
    assert message in str(err.value)


def test_quoted_param_values_pass_through(tmp_path: Path, env: dict[str, str]) -> None:
    path = _write(tmp_path, """<node exec="python3" name="n"><param name="a" value="'-'"/>"""
                            """<param name="b" value="[1, 2]"/></node>""")
    (spec,) = parse_launch_file(path, {}, env)
    assert spec.parameters == (("a", "'-'"), ("b", "[1, 2]"))


def test_include_cycle_is_an_error(tmp_path: Path, env: dict[str, str]) -> None:
    path = _write(tmp_path, '<include file="$(dirname)/t.launch.xml"/>')
    with pytest.raises(LaunchError, match="include cycle"):
        parse_launch_file(path, {}, env)


def test_duplicate_labels_get_suffixes(tmp_path: Path, env: dict[str, str]) -> None:
    path = _write(tmp_path, '<node exec="python3" name="n"/><node exec="python3" name="n"/><node exec="python3"/>')
    assert [s.name for s in parse_launch_file(path, {}, env)] == ["n", "n-2", "python3"]


def test_template_grammar() -> None:
    assert parse_template("plain") == ("plain",)
    assert parse_template("$(dirname)") == (Substitution("dirname", ()),)
    # Nested substitutions inside an argument, and a double-quoted argument with a space.
    assert parse_template('a$(env X $(var y)/z)b$(env Y "s p")') == (
        "a", Substitution("env", (("X",), (Substitution("var", (("y",),)), "/z"))), "b",
        Substitution("env", (("Y",), ("s p",))),
    )
    assert parse_template("cost $5 (approx)") == ("cost $5 (approx)",)  # '$' without '(' is text


@pytest.mark.parametrize(("text", "message"), [
    ("$(var)", "takes 1 argument"),
    ("$(dirname x)", "takes 0 argument"),
    ("$(var x", "unterminated"),
    ("$(env 'x)", "unterminated quoted"),
    ("$(command ls)", "outside the launch subset"),
    ("$(frobnicate x)", "unknown substitution"),
    ("$( var x)", "expected a substitution name"),
])
def test_template_errors(text: str, message: str) -> None:
    with pytest.raises(SubstitutionError, match=message.replace("(", r"\(")):
        parse_template(text)
