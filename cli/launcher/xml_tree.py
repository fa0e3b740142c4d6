"""Read a launch XML file into elements that remember their line, and check them against the subset.

The schema below is the subset of the real ``launch_xml``/``launch_ros`` frontend that
ARCHITECTURE.md ("Launch files") allows; tag and attribute names are the real ones, so a file that
passes here is also valid for ``ros2 launch``. Every action also takes ``if``/``unless`` (as in
launch's ``Action.parse``). Checking is structural and covers the whole file, including branches a
condition would skip, so an out-of-subset file is rejected whatever the arguments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from xml.parsers import expat

from anima.launcher.description import LaunchError
from anima.launcher.substitutions import SubstitutionError, Template, parse_template


@dataclass
class Element:
    """One XML element: tag, raw attributes, parsed templates, children, and where it is."""

    tag: str
    attrs: dict[str, str]
    line: int
    file: Path
    children: list[Element] = field(default_factory=list)
    templates: dict[str, Template] = field(default_factory=dict)

    def error(self, message: str) -> LaunchError:
        """A LaunchError located at this element."""
        return LaunchError(message, self.file, self.line, self.tag)


@dataclass(frozen=True)
class _Schema:
    required: frozenset[str]
    optional: frozenset[str] = frozenset()
    literal: frozenset[str] = frozenset()  # attributes taken verbatim (no substitutions)
    children: str = ""  # key into _CHILDREN


def _s(required: str, optional: str = "", literal: str = "", children: str = "") -> _Schema:
    return _Schema(frozenset(required.split()), frozenset(optional.split()), frozenset(literal.split()), children)


_CONDITIONS = "if unless"
ACTIONS: dict[str, _Schema] = {
    "arg": _s("name", f"default description {_CONDITIONS}", literal="name description"),
    "let": _s("name value", _CONDITIONS),
    "group": _s("", f"scoped {_CONDITIONS}", literal="scoped", children="actions"),
    "push-ros-namespace": _s("namespace", _CONDITIONS),
    "push_ros_namespace": _s("namespace", _CONDITIONS),
    "include": _s("file", _CONDITIONS, children="include"),
    "set_env": _s("name value", _CONDITIONS),
    "node": _s("exec", f"pkg name namespace args output on_exit {_CONDITIONS}", literal="output on_exit", children="node"),
}
_NESTED: dict[str, dict[str, _Schema]] = {
    "actions": ACTIONS,
    "include": {"arg": _s("name value")},
    "node": {"param": _s("", "name value from"), "remap": _s("from to")},
}
# Real launch tags we recognise but do not support, for a clearer message.
OUT_OF_SUBSET_TAGS = frozenset({
    "executable", "timer", "node_container", "composable_node", "load_composable_node",
    "set_parameter", "set_parameters_file", "set_remap", "set_use_sim_time", "log", "unset_env",
    "append_env", "prepend_env", "shutdown", "for", "for_each", "lifecycle_node", "ros_timer",
    "set_ros_log_dir", "reset", "env", "keep", "choice", "pop-ros-namespace", "pop_ros_namespace",
})


def read_launch_xml(path: Path) -> Element:
    """Parse ``path`` into a checked :class:`Element` tree whose root is ``<launch>``.

    Raises LaunchError (file, line, tag) for malformed XML or anything outside the subset.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LaunchError(f"cannot read launch file: {exc.strerror or exc}", path) from exc
    root = _parse_xml(data, path)
    if root.tag != "launch":
        raise root.error("the root element of a launch file must be <launch>")
    if root.attrs:
        raise root.error(f"unexpected attribute(s) {', '.join(sorted(root.attrs))} on <launch>")
    for child in root.children:
        _check(child, ACTIONS)
    return root


def _parse_xml(data: bytes, path: Path) -> Element:
    parser = expat.ParserCreate()
    stack: list[Element] = []
    roots: list[Element] = []

    def start(tag: str, attrs: dict[str, str]) -> None:
        el = Element(tag, dict(attrs), parser.CurrentLineNumber, path)
        (stack[-1].children if stack else roots).append(el)
        stack.append(el)

    def end(_tag: str) -> None:
        stack.pop()

    def text(chars: str) -> None:
        if chars.strip() and stack:
            el = stack[-1]
            raise LaunchError(f"unexpected text {chars.strip()[:40]!r} inside the element", path,
                              parser.CurrentLineNumber, el.tag)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise LaunchError(f"malformed XML: {expat.errors.messages[exc.code]} (column {exc.offset + 1})",
                          path, exc.lineno, stack[-1].tag if stack else None) from None
    return roots[0]


def _check(el: Element, allowed: dict[str, _Schema]) -> None:
    """Check tag, attributes and children of ``el`` recursively; parse its substitutions."""
    schema = allowed.get(el.tag)
    if schema is None:
        if el.tag in OUT_OF_SUBSET_TAGS or el.tag in ACTIONS:
            raise el.error(f"tag <{el.tag}> is outside the launch subset anima supports here "
                           f"(allowed: {', '.join(sorted(allowed))})")
        raise el.error(f"unknown tag <{el.tag}> (allowed here: {', '.join(sorted(allowed))})")
    names = set(el.attrs)
    unknown = names - schema.required - schema.optional
    if unknown:
        raise el.error(f"unsupported attribute(s) {', '.join(sorted(unknown))} "
                       f"(allowed: {', '.join(sorted(schema.required | schema.optional))})")
    missing = schema.required - names
    if missing:
        raise el.error(f"missing required attribute(s) {', '.join(sorted(missing))}")
    if "if" in names and "unless" in names:
        raise el.error("'if' and 'unless' cannot be used together")
    for key, value in el.attrs.items():
        if key not in schema.literal:
            try:
                el.templates[key] = parse_template(value)
            except SubstitutionError as exc:
                raise el.error(f"attribute {key}: {exc}") from None
    nested = _NESTED.get(schema.children, {})
    if el.children and not nested:
        raise el.children[0].error(f"<{el.tag}> takes no child elements in the supported subset")
    if el.tag == "param":
        _check_param(el)
    for child in el.children:
        _check(child, nested)


def _check_param(el: Element) -> None:
    if "from" in el.attrs:
        if "name" in el.attrs or "value" in el.attrs:
            raise el.error("'from' cannot be combined with 'name' or 'value'")
    elif not ("name" in el.attrs and "value" in el.attrs):
        raise el.error("a <param> needs either name and value, or from")
