"""Turn an XML launch file, its arguments and an environment into the processes to start.

Semantics follow ros2/launch and launch_ros (Jazzy) for the subset in ARCHITECTURE.md:

* ``<arg name default>`` declares a launch argument: a value given on the command line or by an
  including file wins, else the default; no default and no value is an error.
* ``<let>``, ``<arg>`` values given by ``<include>``, ``<set_env>`` and ``<push-ros-namespace>``
  change the current scope: they persist to the end of the file and through includes (launch's
  ``IncludeLaunchDescription`` does not scope), except inside ``<group>`` (``scoped`` defaults to
  true), which restores launch configurations, namespace and environment when it ends.
* ``if``/``unless`` accept true/false/1/0 in any case, anything else is an error.
* ``$(env X)`` reads the environment as changed by earlier ``<set_env>`` (launch's
  ``context.environment``); ``$(dirname)`` is the folder of the file the text is in.
* ``output`` accepts screen, log and both; ``anima launch`` prints every process's output either way.

Deliberate differences: ``<include file>`` and ``<param from>`` must resolve to absolute paths
(``ros2 launch`` would resolve relative paths against the working directory; use ``$(dirname)`` or
``$(find-pkg-share anima)``), a missing params file is an error rather than a warning, and a
command-line argument that no ``<arg>`` declares is an error (it is almost always a typo).
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from anima.launcher.description import LaunchError, ProcessSpec, child_env
from anima.launcher.resolve import (make_absolute, namespace_problem, node_name_problem,
                                    prefix_namespace, resolve_executable)
from anima.launcher.substitutions import (SubstitutionContext, SubstitutionError,
                                          default_find_pkg_share, evaluate)
from anima.launcher.xml_tree import Element, read_launch_xml

_BOOLS = {"true": True, "1": True, "false": False, "0": False}
_MAX_INCLUDE_DEPTH = 32
NAMESPACE_KEY = "ros_namespace"  # the launch configuration launch_ros keeps the pushed namespace in


@dataclass
class _State:
    configs: dict[str, str]
    env: dict[str, str]
    base_env: Mapping[str, str]
    find_pkg_share: Callable[[str, Mapping[str, str]], Path]
    specs: list[ProcessSpec] = field(default_factory=list)
    declared: set[str] = field(default_factory=set)


def parse_launch_file(path: Path | str, launch_args: Mapping[str, str] | None = None,
                      env: Mapping[str, str] | None = None, *,
                      find_pkg_share: Callable[[str, Mapping[str, str]], Path] = default_find_pkg_share,
                      ) -> list[ProcessSpec]:
    """The processes ``path`` starts, in file order; a pure function of (file, args, env).

    Args:
        path: the launch XML file.
        launch_args: ``name -> value`` as given by ``name:=value`` on the command line.
        env: the launcher's environment (default: ``os.environ``); children inherit it.
        find_pkg_share: how ``$(find-pkg-share PKG)`` is resolved (injectable for tests).

    Raises:
        LaunchError: naming file, line and tag, for anything invalid; nothing is started.
    """
    path = Path(path).absolute()
    args = dict(launch_args or {})
    base_env = dict(os.environ if env is None else env)
    state = _State(dict(args), dict(base_env), base_env, find_pkg_share)
    root = read_launch_xml(path)
    _declare(root, state)
    _walk(root.children, path, state, (path,))
    undeclared = sorted(set(args) - state.declared)
    if undeclared:
        raise LaunchError(f"launch argument(s) {', '.join(undeclared)} given but not declared by any <arg> "
                          f"(declared: {', '.join(sorted(state.declared)) or 'none'})", path)
    return _unique_labels(state.specs)


def parse_launch_args(items: list[str]) -> dict[str, str]:
    """``["robot:=laikago", ...]`` -> ``{"robot": "laikago"}``; raise ValueError naming a bad item."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition(":=")
        if not sep or not name:
            raise ValueError(f"launch argument {item!r} is not of the form name:=value")
        out[name] = value
    return out


def _declare(root: Element, state: _State) -> None:
    """Record every ``<arg>`` a file declares, on any branch (for the undeclared-argument check)."""
    for el in root.children:
        if el.tag == "arg":
            state.declared.add(el.attrs["name"])
        elif el.tag == "group":
            _declare(el, state)


def _eval(el: Element, key: str, state: _State, file: Path) -> str:
    ctx = SubstitutionContext(state.configs, state.env, file.parent, state.find_pkg_share)
    try:
        return evaluate(el.templates[key], ctx)
    except SubstitutionError as exc:
        raise el.error(f"attribute {key}: {exc}") from None


def _bool(el: Element, key: str, text: str) -> bool:
    value = _BOOLS.get(text.lower())
    if value is None:
        raise el.error(f"attribute {key}: {text!r} is not a boolean (expected true, false, 1 or 0)")
    return value


def _enabled(el: Element, state: _State, file: Path) -> bool:
    if "if" in el.attrs:
        return _bool(el, "if", _eval(el, "if", state, file))
    if "unless" in el.attrs:
        return not _bool(el, "unless", _eval(el, "unless", state, file))
    return True


def _walk(elements: list[Element], file: Path, state: _State, stack: tuple[Path, ...]) -> None:
    for el in elements:
        if _enabled(el, state, file):
            _HANDLERS[el.tag](el, file, state, stack)


def _arg(el: Element, file: Path, state: _State, _stack: tuple[Path, ...]) -> None:
    name = el.attrs["name"]
    if name not in state.configs:
        if "default" not in el.attrs:
            hint = f" ({el.attrs['description']})" if "description" in el.attrs else ""
            raise el.error(f"required launch argument '{name}'{hint} was not given; pass {name}:=VALUE")
        state.configs[name] = _eval(el, "default", state, file)


def _let(el: Element, file: Path, state: _State, _stack: tuple[Path, ...]) -> None:
    state.configs[_eval(el, "name", state, file)] = _eval(el, "value", state, file)


def _set_env(el: Element, file: Path, state: _State, _stack: tuple[Path, ...]) -> None:
    name = _eval(el, "name", state, file)
    if not name or "=" in name:
        raise el.error(f"attribute name: {name!r} is not a valid environment variable name")
    state.env[name] = _eval(el, "value", state, file)


def _group(el: Element, file: Path, state: _State, stack: tuple[Path, ...]) -> None:
    scoped = _bool(el, "scoped", el.attrs["scoped"]) if "scoped" in el.attrs else True
    saved = (dict(state.configs), dict(state.env))
    _walk(el.children, file, state, stack)
    if scoped:
        state.configs, state.env = saved


def _push_namespace(el: Element, file: Path, state: _State, _stack: tuple[Path, ...]) -> None:
    pushed = _eval(el, "namespace", state, file)
    previous = state.configs.get(NAMESPACE_KEY)
    combined = make_absolute(prefix_namespace(previous, pushed)) or "/"  # '' pushes '/', as launch_ros does
    problem = namespace_problem(combined)
    if problem:
        raise el.error(f"resulting namespace is invalid (previous {previous!r}, pushed {pushed!r}): {problem}")
    state.configs[NAMESPACE_KEY] = combined


def _include(el: Element, file: Path, state: _State, stack: tuple[Path, ...]) -> None:
    target = Path(_eval(el, "file", state, file))
    if not target.is_absolute():
        raise el.error(f"include path '{target}' is relative; write $(dirname)/{target} or "
                       "$(find-pkg-share anima)/launch/... so it works the same under ros2 launch")
    if not target.is_file():
        raise el.error(f"included file '{target}' does not exist")
    if not target.name.endswith(".xml"):
        raise el.error(f"only XML launch files can be included, not '{target.name}'")
    if target in stack or len(stack) >= _MAX_INCLUDE_DEPTH:
        raise el.error(f"include cycle: {' -> '.join(str(p) for p in (*stack, target))}")
    for arg in el.children:  # set in order, in the including file's scope (launch does the same)
        state.configs[_eval(arg, "name", state, file)] = _eval(arg, "value", state, file)
    root = read_launch_xml(target)
    _declare(root, state)
    _walk(root.children, target, state, (*stack, target))


def _node(el: Element, file: Path, state: _State, _stack: tuple[Path, ...]) -> None:
    ev = {key: _eval(el, key, state, file) for key in el.templates if key not in ("if", "unless")}
    package, executable = ev.get("pkg") or None, ev["exec"]
    node_name = ev.get("name")
    if node_name is not None and (problem := node_name_problem(node_name)):
        raise el.error(f"attribute name: {problem}")
    namespace = make_absolute(prefix_namespace(state.configs.get(NAMESPACE_KEY), ev.get("namespace")))
    if namespace is not None and (problem := namespace_problem(namespace)):
        raise el.error(f"attribute namespace: {problem}")
    if el.attrs.get("output", "screen") not in ("screen", "log", "both"):
        raise el.error(f"attribute output: {el.attrs['output']!r} is not one of screen, log, both")
    on_exit = el.attrs.get("on_exit")
    if on_exit is not None and on_exit != "shutdown":
        raise el.error(f"attribute on_exit: {on_exit!r} is outside the subset (only \"shutdown\")")
    try:
        arguments = tuple(shlex.split(ev.get("args", "")))
    except ValueError as exc:
        raise el.error(f"attribute args: {exc}") from None
    try:
        exe = resolve_executable(package, executable, state.env, file.parent)
    except LookupError as exc:
        raise el.error(str(exc)) from None
    ros_args = ["--ros-args"]
    if node_name is not None:
        ros_args += ["-r", f"__node:={node_name}"]
    if namespace is not None:
        ros_args += ["-r", f"__ns:={namespace}"]
    parameters, params_files = _parameters(el, file, state, ros_args)
    remaps = tuple((_eval(r, "from", state, file), _eval(r, "to", state, file))
                   for r in el.children if r.tag == "remap")
    for src, dst in remaps:
        ros_args += ["-r", f"{src}:={dst}"]
    env = child_env(state.env)
    overrides = tuple(sorted((k, v) for k, v in env.items() if state.base_env.get(k) != v))
    state.specs.append(ProcessSpec(
        name=node_name or Path(executable).name, executable=str(exe), package=package,
        node_name=node_name, namespace=namespace, arguments=arguments, parameters=parameters,
        params_files=params_files, remaps=remaps, env=env, env_overrides=overrides,
        ros_arguments=tuple(ros_args), source=f"{file}:{el.line}", on_exit=on_exit))


def _parameters(el: Element, file: Path, state: _State,
                ros_args: list[str]) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]]:
    """Append ``-p``/``--params-file`` to ``ros_args`` in document order; return both lists."""
    values: list[tuple[str, str]] = []
    files: list[str] = []
    for param in (c for c in el.children if c.tag == "param"):
        if "from" in param.attrs:
            target = Path(_eval(param, "from", state, file))
            if not target.is_absolute():
                raise param.error(f"params file path '{target}' is relative; write $(dirname)/{target} "
                                  "or $(find-pkg-share anima)/config/...")
            if not target.is_file():
                raise param.error(f"params file '{target}' does not exist")
            files.append(str(target))
            ros_args += ["--params-file", str(target)]
        else:
            name, value = _eval(param, "name", state, file), _eval(param, "value", state, file)
            if not name or any(ch.isspace() for ch in name) or ":=" in name:
                raise param.error(f"attribute name: {name!r} is not a valid parameter name")
            if problem := param_value_problem(value):
                raise param.error(f"parameter {name}: {problem}")
            values.append((name, value))
            ros_args += ["-p", f"{name}:={value}"]
    return tuple(values), tuple(files)


def param_value_problem(value: str) -> str | None:
    """Why rcl would refuse ``-p name:=value`` (it reads the value as one YAML scalar or list).

    rcl rejects an empty value, ``-`` (a YAML list item), null, and mappings; ``ros2 launch``
    fails on them too. Quoting makes a string of anything: ``value="'-'"``.
    """
    import yaml

    if not value.strip():
        return "empty value (rcl rejects it); write value=\"''\" for an empty string"
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError as exc:
        return f"value {value!r} is not valid YAML ({exc.__class__.__name__}); quote it: value=\"'...'\""
    items = parsed if isinstance(parsed, list) else [parsed]
    if isinstance(parsed, dict) or any(item is None or isinstance(item, (dict, list)) for item in items):
        return (f"value {value!r} reads as YAML {type(parsed).__name__} {parsed!r}, which rcl cannot take as a "
                f"parameter; quote it to pass a string: value=\"'{value}'\"")
    return None


def _unique_labels(specs: list[ProcessSpec]) -> list[ProcessSpec]:
    """Give processes sharing a label a ``-2``, ``-3`` suffix so output prefixes stay distinct."""
    from dataclasses import replace

    seen: dict[str, int] = {}
    out = []
    for spec in specs:
        seen[spec.name] = seen.get(spec.name, 0) + 1
        out.append(spec if seen[spec.name] == 1 else replace(spec, name=f"{spec.name}-{seen[spec.name]}"))
    return out


_HANDLERS: dict[str, Callable[[Element, Path, _State, tuple[Path, ...]], None]] = {
    "arg": _arg, "let": _let, "set_env": _set_env, "group": _group, "include": _include,
    "push-ros-namespace": _push_namespace, "push_ros_namespace": _push_namespace, "node": _node,
}
