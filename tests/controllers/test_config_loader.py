"""The shared typed config loader: exponent floats written the way users write them."""
from __future__ import annotations

import dataclasses

import pytest

from anima.controllers.config_loader import check_value, config_from_mapping, parse_override


@dataclasses.dataclass(frozen=True)
class _Cfg:
    learning_rate: float = 1.0e-5
    name: str = "x"


@pytest.mark.parametrize("text, expected", [("1e-4", 1e-4), ("3E5", 3e5), ("-2.5e-3", -2.5e-3), (".5e1", 5.0)])
def test_exponent_without_a_dot_is_a_float_from_set(text: str, expected: float) -> None:
    key, value = parse_override(f"ppo.learning_rate={text}")  # PyYAML (YAML 1.1) returns the string here
    assert key == "ppo.learning_rate"
    cfg = config_from_mapping(_Cfg, {"learning_rate": value})
    assert cfg.learning_rate == pytest.approx(expected)


def test_exponent_strings_stay_strings_where_a_string_is_expected() -> None:
    assert config_from_mapping(_Cfg, {"name": "1e-4"}).name == "1e-4"


@pytest.mark.parametrize("bad", ["abc", "1e", "e5", "1e-4x", "nan"])
def test_other_strings_are_still_refused_for_a_float(bad: str) -> None:
    with pytest.raises(ValueError, match="learning_rate: expected float"):
        check_value(bad, float, "learning_rate")
