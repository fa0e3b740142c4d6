"""The README's capability table names only commands, launch files and files that exist."""

from __future__ import annotations

import re
from pathlib import Path

from anima.main import build_parser

REPO = Path(__file__).resolve().parents[2]


def _table_rows() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## What runs today", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| capability")]


def test_capability_table_exists_with_rows() -> None:
    assert len(_table_rows()) >= 5


def test_every_command_in_the_table_exists() -> None:
    commands = set(build_parser()._subparsers._group_actions[0].choices)
    named = {m for row in _table_rows() for m in re.findall(r"`anima ([a-z_-]+)", row)}
    assert named and named <= commands, f"README table names commands that do not exist: {sorted(named - commands)}"


def test_every_file_in_the_table_exists() -> None:
    files = {m for row in _table_rows() for m in re.findall(r"`?([\w/]+\.(?:launch\.xml|py|sh))", row)}
    missing = sorted(f for f in files if not ((REPO / "launch" / f).is_file() or (REPO / f).is_file()))
    assert files and not missing, f"README table names files that do not exist: {missing}"
