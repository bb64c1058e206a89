"""`config_schema.py` accepts, converts and refuses config values as pydantic's lax mode did, word for word.

The expected messages and locations are what pydantic 2 gave for the same schema before the config moved
off it (issue #16), so `check-config`, the TUI's config screen and every `file:line: where: message` read
as they did.
"""

from __future__ import annotations

from typing import Literal

import pytest

from proxy_engine.config import ConfigError, parse_config_text
from proxy_engine.config_schema import ConfigModel, Field, SchemaViolation, field_validator, model_validator


class Key(ConfigModel):
    key: str


class Sample(ConfigModel):
    i: int = 0
    f: float = 0.0
    b: bool = False
    s: str = ""
    lit: Literal["a", "b", "c"] = "a"
    two: Literal["x", "y"] = "x"
    li: list[str] = Field(default_factory=list)
    d: dict[str, str] = Field(default_factory=dict)
    u: list[str | Key] = Field(default_factory=list)
    c: dict[str, str] | list[str] | None = None
    o: Key | None = None
    g: float = Field(default=1.0, gt=0)
    r: int = Field(default=1, ge=1, le=10)
    p: str | None = Field(default=None, pattern=r"^[a-z]{1,3}$")


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("i", True, 1), ("i", 1.0, 1), ("i", "10", 10), ("i", " 10 ", 10), ("i", "5.0", 5), ("f", True, 1.0),
        ("f", "1.5", 1.5), ("b", 1, True), ("b", "yes", True), ("b", "OFF", False), ("b", 0.0, False),
        ("r", 5.0, 5), ("u", ["env:A", {"key": "k"}], ["env:A", Key(key="k")]), ("c", ["a"], ["a"]),
    ],
)  # fmt: skip
def test_values_are_converted_as_pydantic_lax_mode_did(field: str, value: object, expected: object) -> None:
    got = getattr(Sample(**{field: value}), field)
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize(
    ("field", "value", "errors"),
    [
        ("i", 1.5, [(("i",), "Input should be a valid integer, got a number with a fractional part")]),
        ("i", "x", [(("i",), "Input should be a valid integer, unable to parse string as an integer")]),
        ("i", None, [(("i",), "Input should be a valid integer")]),
        ("i", float("inf"), [(("i",), "Input should be a finite number")]),
        ("f", "x", [(("f",), "Input should be a valid number, unable to parse string as a number")]),
        ("b", 2, [(("b",), "Input should be a valid boolean, unable to interpret input")]),
        ("b", 1.5, [(("b",), "Input should be a valid boolean")]),
        ("s", 1, [(("s",), "Input should be a valid string")]),
        ("lit", "d", [(("lit",), "Input should be 'a', 'b' or 'c'")]),
        ("two", "z", [(("two",), "Input should be 'x' or 'y'")]),
        ("li", "abc", [(("li",), "Input should be a valid list")]),
        ("li", [1], [(("li", 0), "Input should be a valid string")]),
        ("d", {1: "x"}, [(("d", 1, "[key]"), "Input should be a valid string")]),
        ("g", 0, [(("g",), "Input should be greater than 0")]),
        ("r", 0, [(("r",), "Input should be greater than or equal to 1")]),
        ("r", 11, [(("r",), "Input should be less than or equal to 10")]),
        ("p", "ABCD", [(("p",), "String should match pattern '^[a-z]{1,3}$'")]),
        ("u", [5], [(("u", 0, "str"), "Input should be a valid string"),
                    (("u", 0, "Key"), "Input should be a valid dictionary or instance of Key")]),
        ("u", [{}], [(("u", 0, "str"), "Input should be a valid string"), (("u", 0, "Key", "key"), "Field required")]),
        ("c", {"a": 1}, [(("c", "dict[str,str]", "a"), "Input should be a valid string"),
                         (("c", "list[str]"), "Input should be a valid list")]),
        ("o", {"zz": 1}, [(("o", "key"), "Field required"), (("o", "zz"), "Extra inputs are not permitted")]),
        ("zz", 1, [(("zz",), "Extra inputs are not permitted")]),
    ],
)  # fmt: skip
def test_errors_have_pydantics_locations_and_wording(field: str, value: object, errors: list) -> None:
    with pytest.raises(SchemaViolation) as e:
        Sample(**{field: value})
    assert [(err["loc"], err["msg"]) for err in e.value.errors()] == errors


class Hooked(ConfigModel):
    mode: Literal["off", "on"] = "on"
    ref: str = "env:X"
    low: int = 0
    high: int = 1

    @field_validator("mode", mode="before")
    @classmethod
    def _yaml_off(cls, v: object) -> object:
        return "off" if v is False else v

    _ref = field_validator("ref")(classmethod(lambda cls, v: v if v.startswith("env:") else cls._refuse()))

    @classmethod
    def _refuse(cls) -> str:
        raise ValueError("must be a reference")

    @model_validator(mode="after")
    def _ordered(self) -> Hooked:
        if self.low > self.high:
            raise ValueError("low must not exceed high")
        return self


def test_hooks_run_before_and_after_the_type_check_and_on_the_whole_model() -> None:
    assert Hooked(mode=False).mode == "off"
    with pytest.raises(SchemaViolation) as e:
        Hooked(ref="plain")
    assert e.value.errors() == [{"loc": ("ref",), "msg": "Value error, must be a reference"}]
    with pytest.raises(SchemaViolation) as e:
        Hooked(low=2)
    assert e.value.errors() == [{"loc": (), "msg": "Value error, low must not exceed high"}]


def test_records_are_frozen_compare_by_value_and_dump() -> None:
    a, b = Sample(u=[{"key": "k"}], d={"x": "y"}), Sample(u=[{"key": "k"}], d={"x": "y"})
    assert a == b and a != Sample()
    assert a.model_dump()["u"] == [{"key": "k"}] and a.model_dump()["d"] == {"x": "y"}
    with pytest.raises(ValueError, match="frozen"):
        a.i = 3  # type: ignore[misc]
    assert hash(Key(key="k")) == hash(Key(key="k"))


def test_config_errors_keep_file_line_and_the_schema_wording() -> None:
    text = "port: 8317\nrouting:\n  retries: 11\nproviders:\n  openai: {api_key: sk-live-plain}\nbogus: 1\n"
    with pytest.raises(ConfigError) as e:
        parse_config_text(text, "c.yaml")
    assert [str(i) for i in e.value.issues] == [
        "c.yaml:5: providers.openai.api_key: must be a reference like keyring:NAME or env:VAR; "
        "secrets never go in the config file",
        "c.yaml:3: routing.retries: Input should be less than or equal to 10",
        "c.yaml:6: bogus: Extra inputs are not permitted",
    ]
