"""Launch substitutions ``$(name arg ...)``: parse them from attribute text and evaluate them.

The syntax follows the XML frontend of ros2/launch (``launch/frontend/grammar.lark``): a value is
literal text mixed with substitutions; a substitution is ``$(`` identifier, then arguments each
preceded by a space, then ``)``; an argument is unquoted text without spaces or parentheses, or a
single- or double-quoted string, and may itself contain substitutions, so
``$(find-pkg-share anima)/config/$(var robot).yaml`` and ``$(env HOME $(var fallback))`` work.
Backslash escapes are not supported (no file of ours needs them).

Supported (the subset ARCHITECTURE.md "Launch files" allows): ``$(var NAME)``,
``$(env NAME [DEFAULT])``, ``$(find-pkg-share PKG)``, ``$(dirname)``. Everything else,
including real launch substitutions such as ``$(command ...)``, ``$(eval ...)`` or
``$(find-pkg-prefix ...)``, is rejected when the file is read, even on branches not taken.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Substitution:
    """``$(name arg ...)``; each argument is itself a template."""

    name: str
    args: tuple[Template, ...]


Template = tuple["str | Substitution", ...]

# name -> (min args, max args)
SUPPORTED: dict[str, tuple[int, int]] = {
    "var": (1, 1), "env": (1, 2), "find-pkg-share": (1, 1), "dirname": (0, 0),
}
# Real launch / launch_ros substitutions that exist but are outside our subset.
OUT_OF_SUBSET = frozenset({
    "command", "eval", "find-pkg-prefix", "find-exec", "exec-in-pkg", "anon", "filename",
    "optenv", "arg", "param", "not", "and", "or", "any", "all", "equals", "not-equals", "if",
    "path-join", "string-join", "file-content", "launch_log_dir", "log_dir", "parameter",
    "executable", "find-package-prefix", "find-package-share", "python", "python-expression",
})
_IDENT = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


class SubstitutionError(ValueError):
    """Bad substitution syntax, an unsupported substitution, or one that cannot be evaluated."""


def parse_template(text: str) -> Template:
    """Split attribute text into literal strings and :class:`Substitution` s.

    Raises SubstitutionError naming the column for bad syntax or an unsupported substitution.
    """
    parts: list[str | Substitution] = []
    buf: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith("$(", i):
            if buf:
                parts.append("".join(buf))
                buf = []
            sub, i = _parse_substitution(text, i)
            parts.append(sub)
        else:
            buf.append(text[i])
            i += 1
    if buf:
        parts.append("".join(buf))
    return tuple(parts)


def _parse_substitution(text: str, start: int) -> tuple[Substitution, int]:
    """Parse ``$(...)`` beginning at ``start``; return it and the index after ``)``."""
    match = _IDENT.match(text, start + 2)
    if match is None:
        raise SubstitutionError(f"expected a substitution name after '$(' at column {start + 1} in {text!r}")
    name = match.group(0)
    _check_name(name, text)
    args: list[Template] = []
    i = match.end()
    while True:
        if i >= len(text):
            raise SubstitutionError(f"unterminated substitution '$({name}' in {text!r} (missing ')')")
        if text[i] == ")":
            break
        if text[i] != " ":
            raise SubstitutionError(f"unexpected {text[i]!r} at column {i + 1} in {text!r}")
        while i < len(text) and text[i] == " ":
            i += 1
        if i < len(text) and text[i] != ")":
            arg, i = _parse_argument(text, i)
            args.append(arg)
    low, high = SUPPORTED[name]
    if not low <= len(args) <= high:
        want = str(low) if low == high else f"{low} to {high}"
        raise SubstitutionError(f"$({name}) takes {want} argument(s), got {len(args)} in {text!r}")
    return Substitution(name, tuple(args)), i + 1


def _check_name(name: str, text: str) -> None:
    if name in SUPPORTED:
        return
    if name in OUT_OF_SUBSET:
        raise SubstitutionError(
            f"substitution $({name} ...) is outside the launch subset anima supports "
            f"(supported: {', '.join(sorted(SUPPORTED))}) in {text!r}")
    raise SubstitutionError(f"unknown substitution $({name} ...) in {text!r}")


def _parse_argument(text: str, i: int) -> tuple[Template, int]:
    """One argument of a substitution: quoted string or unquoted run; return it and the end."""
    quote = text[i] if text[i] in "'\"" else None
    stops = quote if quote else " )"
    if quote:
        i += 1
    parts: list[str | Substitution] = []
    buf: list[str] = []
    while True:
        if i >= len(text):
            what = f"quoted string ({quote})" if quote else "substitution (missing ')')"
            raise SubstitutionError(f"unterminated {what} in {text!r}")
        char = text[i]
        if char in stops:
            break
        if text.startswith("$(", i):
            if buf:
                parts.append("".join(buf))
                buf = []
            sub, i = _parse_substitution(text, i)
            parts.append(sub)
            continue
        if not quote and char in "()'\"":
            raise SubstitutionError(f"unexpected {char!r} at column {i + 1} in {text!r}; quote the argument")
        buf.append(char)
        i += 1
    if buf:
        parts.append("".join(buf))
    return tuple(parts), i + 1 if quote else i


@dataclass(frozen=True)
class SubstitutionContext:
    """What substitutions read: launch configurations, the environment, the current file."""

    configs: Mapping[str, str]
    env: Mapping[str, str]
    dirname: Path
    find_pkg_share: Callable[[str, Mapping[str, str]], Path]


def evaluate(template: Template, ctx: SubstitutionContext) -> str:
    """The text of ``template`` with every substitution performed (launch's semantics)."""
    out: list[str] = []
    for part in template:
        out.append(part if isinstance(part, str) else _perform(part, ctx))
    return "".join(out)


def _perform(sub: Substitution, ctx: SubstitutionContext) -> str:
    args = [evaluate(a, ctx) for a in sub.args]
    if sub.name == "var":
        if args[0] not in ctx.configs:
            known = ", ".join(sorted(k for k in ctx.configs if k != "ros_namespace")) or "none"
            raise SubstitutionError(f"$(var {args[0]}): launch configuration '{args[0]}' is not defined "
                                    f"(defined: {known})")
        return ctx.configs[args[0]]
    if sub.name == "env":
        value = ctx.env.get(args[0], args[1] if len(args) == 2 else None)
        if value is None:
            raise SubstitutionError(f"$(env {args[0]}): environment variable '{args[0]}' does not exist "
                                    "and no default was given")
        return value
    if sub.name == "find-pkg-share":
        return str(ctx.find_pkg_share(args[0], ctx.env))
    return str(ctx.dirname)  # dirname


def default_find_pkg_share(package: str, env: Mapping[str, str]) -> Path:
    """``$(find-pkg-share PKG)``: ``anima.share_dir()`` for anima, else the ament prefixes in ``env``."""
    if package == "anima":
        from anima import share_dir

        try:
            return share_dir()
        except FileNotFoundError as exc:
            raise SubstitutionError(f"$(find-pkg-share anima): {exc}") from None
    for prefix in env.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        candidate = Path(prefix) / "share" / package
        if prefix and candidate.is_dir():
            return candidate
    raise SubstitutionError(f"$(find-pkg-share {package}): package '{package}' not found "
                            "(only 'anima' and packages on AMENT_PREFIX_PATH are known)")
