"""The rules engine (tmuxweb/rules.py): loading, every refusal at load time,
matching, and hostile files and screens. The shipped rules against their
screens are in test_rules_shipped.py."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tmuxweb.rules import (
    MAX_CHOICES,
    MAX_LABEL,
    MAX_LINE,
    MAX_QUESTION,
    NAMED_KEYS,
    Choice,
    Rules,
    RulesError,
    load_rules,
    parse_rules,
)

CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")

MENU_RULE = """
version = 1
[[rules]]
name = "menu"
tool = "Menu tool"
state = "waiting"
match = '^Pick one\\?'
menu = '^\\s*(?:> )?(?P<key>\\d)\\. (?P<label>.+)'
menu_keys = ["{key}", "Enter"]
"""


def toml_value(value: Any) -> str:
    """A small TOML writer for the tests (the standard library only reads)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        # TOML takes no raw control characters, DEL included (json leaves it).
        return re.sub(r"[\x00-\x1f\x7f]", lambda m: f"\\u{ord(m[0]):04x}", json.dumps(value, ensure_ascii=False))
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_value(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


def toml(*rules: dict[str, Any], version: Any = 1) -> str:
    text = f"version = {toml_value(version)}\n"
    for rule in rules:
        text += "[[rules]]\n" + "".join(f"{toml_value(k)} = {toml_value(v)}\n" for k, v in rule.items())
    return text


def rule(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"name": "r", "tool": "Tool", "state": "waiting", "match": "^Go\\?"}
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def rules_of(*tables: dict[str, Any]) -> Rules:
    return Rules(parse_rules(toml(*tables), "test.toml"))


def refused(text: str) -> str:
    with pytest.raises(RulesError) as caught:
        parse_rules(text, "my.toml")
    message = str(caught.value)
    assert message.startswith("my.toml: ")
    return message


# -- matching ------------------------------------------------------------------


def test_a_menu_becomes_choices_with_their_keys() -> None:
    rules = Rules(parse_rules(MENU_RULE, "t"))
    found = rules.match(["old output", "Pick one?", "> 1. Yes", "  2. No, thanks", "", ""], "anything", 0)
    assert found is not None
    assert found.state == "waiting" and found.rule.name == "menu" and found.rule.tool == "Menu tool"
    assert found.question == "Pick one?"
    assert found.choices == (Choice("Yes", ("1", "Enter")), Choice("No, thanks", ("2", "Enter")))


def test_menu_lines_above_the_match_are_not_choices() -> None:
    # A numbered list in earlier output (or a diff) is not the menu.
    rules = Rules(parse_rules(MENU_RULE, "t"))
    found = rules.match(["1. step one", "2. step two", "Pick one?", "3. Only this"], "x", 0)
    assert found is not None and [c.label for c in found.choices] == ["Only this"]


def test_one_line_can_hold_several_choices() -> None:
    rules = rules_of(rule(match=r"\(Y\)es/\(N\)o", menu=r"\((?P<key>[A-Z])\)(?P<label>[a-z]+)"))
    found = rules.match(["Go? (Y)es/(N)o [Yes]:"], "x", 0)
    assert found is not None and found.choices == (Choice("es", ("Y",)), Choice("o", ("N",)))


def test_the_first_matching_rule_wins() -> None:
    rules = rules_of(rule(name="a", tool="A"), rule(name="b", tool="B"))
    found = rules.match(["Go?"], "x", 0)
    assert found is not None and found.rule.name == "a"


def test_commands_are_globs_over_the_current_command() -> None:
    rules = rules_of(rule(commands=["claude", "node*"]))
    assert rules.match(["Go?"], "claude", 0) is not None
    assert rules.match(["Go?"], "nodejs", 0) is not None
    assert rules.match(["Go?"], "bash", 0) is None
    assert rules.match(["Go?"], "Claude", 0) is None  # case matters, as in `ps`


def test_min_busy_needs_that_much_work_before() -> None:
    rules = rules_of(rule(state="done", min_busy=10))
    assert rules.match(["Go?"], "x", 9.99) is None
    found = rules.match(["Go?"], "x", 10.0)
    assert found is not None and found.state == "done" and found.choices == ()


def test_the_window_is_the_last_lines_up_to_the_last_non_empty_one() -> None:
    rules = rules_of(rule(last_lines=2))
    assert rules.match(["Go?", "a", "", "   ", ""], "x", 0) is not None  # trailing blanks trimmed
    assert rules.match(["Go?", "a", "b", ""], "x", 0) is None  # scrolled out of the window
    assert rules.match([], "x", 0) is None
    assert rules.match(["", "", ""], "x", 0) is None


def test_unless_anywhere_in_the_window_stops_the_rule() -> None:
    rules = rules_of(rule(unless="esc to interrupt"))
    assert rules.match(["Go?"], "x", 0) is not None
    # Above the match as much as below it.
    assert rules.match(["working… (esc to interrupt)", "Go?"], "x", 0) is None
    assert rules.match(["Go?", "working… (esc to interrupt)"], "x", 0) is None
    # Only the window counts: a spinner scrolled out of it does not.
    narrow = rules_of(rule(unless="esc to interrupt", last_lines=2))
    assert narrow.match(["esc to interrupt", "a", "Go?"], "x", 0) is not None


def test_question_defaults_to_the_line_the_match_started_on() -> None:
    rules = rules_of(rule(match=r"Go\?\n\s*ok"))
    found = rules.match(["before", "  Shall we Go?  ", "  ok"], "x", 0)
    assert found is not None and found.question == "Shall we Go?"


def test_question_pattern_takes_group_q_of_its_last_match() -> None:
    rules = rules_of(rule(match=r"Go\?", question=r"^│ (?P<q>[^│]+?) *│$"))
    found = rules.match(["│ first │", "│ Go? │"], "x", 0)
    assert found is not None and found.question == "Go?"


def test_question_pattern_without_q_takes_the_whole_match() -> None:
    rules = rules_of(rule(question=r"G\w\?"))
    found = rules.match(["Go?"], "x", 0)
    assert found is not None and found.question == "Go?"


def test_static_choices_are_given_as_written() -> None:
    rules = rules_of(rule(choices=[{"label": "Yes", "keys": ["y", "Enter"]}, {"label": "Stop", "keys": ["Escape"]}]))
    found = rules.match(["Go?"], "x", 0)
    assert found is not None
    assert found.choices == (Choice("Yes", ("y", "Enter")), Choice("Stop", ("Escape",)))
    assert "Escape" in NAMED_KEYS and "Enter" in NAMED_KEYS


def test_screen_text_in_questions_and_labels_is_cleaned_and_cut() -> None:
    rules = Rules(parse_rules(MENU_RULE, "t"))
    long = "x" * 500
    found = rules.match(["Pick one?\x1b[31m " + long, "1. Bell\x07 and\ttab " + long], "x", 0)
    assert found is not None
    assert not CONTROL.search(found.question) and len(found.question) == MAX_QUESTION
    (choice,) = found.choices
    assert choice.label.startswith("Bell and tab x") and len(choice.label) == MAX_LABEL


def test_a_key_from_the_screen_with_a_control_character_is_not_offered() -> None:
    rules = rules_of(rule(match="^Go", menu=r"\[(?P<key>[^\]]+)\] (?P<label>\w+)"))
    found = rules.match(["Go", "[y] Yes [\x1b[A] Up [" + "k" * 40 + "] Long"], "x", 0)
    assert found is not None and found.choices == (Choice("Yes", ("y",)),)


def test_keys_made_from_a_screen_key_are_no_longer_than_a_file_may_write() -> None:
    rules = rules_of(rule(match="^Go", menu=r"\[(?P<key>\w+)\] (?P<label>\w+)", menu_keys=["x" * 25 + "{key}"]))
    found = rules.match(["Go", "[1234567] Fits [12345678] Long"], "x", 0)
    assert found is not None and found.choices == (Choice("Fits", ("x" * 25 + "1234567",)),)


def test_no_more_than_sixteen_choices_come_from_a_screen() -> None:
    rules = rules_of(rule(match="^Go", menu=r"(?P<key>\d+)\) (?P<label>\w+)", last_lines=50))
    found = rules.match(["Go"] + [f"{i}) item{i}" for i in range(40)], "x", 0)
    assert found is not None and len(found.choices) == MAX_CHOICES


def test_a_huge_screen_is_read_only_at_its_end() -> None:
    rules = Rules(parse_rules(MENU_RULE, "t"))
    wide = "w" * 100_000
    screen = [wide] * 20_000 + ["Pick one?", "1. Yes " + wide, "2. No"] + [""] * 20_000
    found = rules.match(screen, "x", 0)
    assert found is not None and [c.label for c in found.choices] == ["Yes " + "w" * (MAX_LABEL - 4), "No"]
    # What lies beyond MAX_LINE characters of a line is cut before any
    # pattern sees it.
    anywhere = rules_of(rule(match=r"Go\?"))
    assert anywhere.match(["w" * (MAX_LINE - 3) + "Go?"], "x", 0) is not None
    assert anywhere.match(["w" * MAX_LINE + "Go?"], "x", 0) is None


# -- loading -------------------------------------------------------------------


def test_the_shipped_rules_load_and_have_unique_names() -> None:
    rules = load_rules()
    names = [r.name for r in rules.rules]
    assert names and len(names) == len(set(names))
    assert {r.state for r in rules.rules} == {"waiting", "done"}
    assert all(r.source == "shipped" for r in rules.rules)


def test_user_rules_come_first_and_replace_shipped_ones_by_name(tmp_path: Path) -> None:
    shipped = load_rules()
    replaced = shipped.rules[-1].name
    mine = tmp_path / "mine.toml"
    mine.write_text(toml(rule(name="mine"), rule(name=replaced, tool="Mine")))
    rules = load_rules([mine])
    names = [r.name for r in rules.rules]
    assert names[:2] == ["mine", replaced]
    assert names.count(replaced) == 1 and len(rules) == len(shipped) + 1
    assert rules.rules[1].tool == "Mine" and rules.rules[1].source == str(mine)


def test_without_shipped_rules_only_the_users_are_loaded(tmp_path: Path) -> None:
    mine = tmp_path / "mine.toml"
    mine.write_text(toml(rule()))
    assert [r.name for r in load_rules([mine], shipped=False).rules] == ["r"]
    assert len(load_rules(shipped=False)) == 0


def test_one_name_in_two_user_files_is_refused(tmp_path: Path) -> None:
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    a.write_text(toml(rule()))
    b.write_text(toml(rule()))
    with pytest.raises(RulesError, match=r"b\.toml: rule 'r' is also defined in .*a\.toml"):
        load_rules([a, b])


def test_a_missing_file_names_itself(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="nope.toml: cannot read"):
        load_rules([tmp_path / "nope.toml"])


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b'version = 1\n# \xff\xfe\n')
    with pytest.raises(RulesError, match="bad.toml: not UTF-8"):
        load_rules([bad])


def test_a_huge_file_is_refused_unread(tmp_path: Path) -> None:
    big = tmp_path / "big.toml"
    big.write_text("version = 1\n" + "#" * (2 * 1024 * 1024))
    with pytest.raises(RulesError, match="larger than"):
        load_rules([big])


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("version = 1\n[[rules]\n", "not valid TOML"),
        ("version = 1\nversion = 1\n", "not valid TOML"),
        ("", "'version = 1' is required"),
        ("version = 2\n", "'version = 1' is required"),
        ("version = true\n", "'version = 1' is required"),
        ("version = 1\nextra = 3\n", "unknown key 'extra'"),
        ("version = 1\nrules = 3\n", "array of tables"),
        ("version = 1\nrules = [1, 2]\n", "array of tables"),
    ],
)
def test_a_bad_file_is_refused(text: str, says: str) -> None:
    assert says in refused(text)


@pytest.mark.parametrize(
    ("fields", "field", "says"),
    [
        ({"colour": "red"}, "colour", "unknown key"),
        ({"name": None}, "name", "non-empty string"),
        ({"name": "Has Space"}, "name", "a-z, 0-9"),
        ({"name": "a" * 65}, "name", "at most 64"),
        ({"tool": ""}, "tool", "non-empty string"),
        ({"tool": "bell\u0007"}, "tool", "control characters"),
        ({"state": "busy"}, "state", "'waiting' or 'done'"),
        ({"match": None}, "match", "is required"),
        ({"match": "(unclosed"}, "match", "bad regular expression"),
        ({"match": "a{2,1}"}, "match", "bad regular expression"),
        ({"match": "x*"}, "match", "matches the empty string"),
        ({"match": 3}, "match", "regular expression of 1 to"),
        ({"question": "[z-a]"}, "question", "bad regular expression"),
        ({"unless": "(?P<x>"}, "unless", "bad regular expression"),
        ({"menu": "(?P<key>x)"}, "menu", "named groups"),
        ({"menu": "(?P<key>x)(?P<label>y)", "choices": [{"label": "a", "keys": ["a"]}]}, "choices", "not both"),
        ({"menu_keys": ["{key}"]}, "menu_keys", "only goes with 'menu'"),
        ({"menu": "(?P<key>x)(?P<label>y)", "menu_keys": ["{label}"]}, "menu_keys", "only placeholder"),
        ({"menu": "(?P<key>x)(?P<label>y)", "menu_keys": ["Enter"]}, "menu_keys", "use {key}"),
        ({"menu": "(?P<key>x)(?P<label>y)", "menu_keys": []}, "menu_keys", "1 to 8 strings"),
        ({"last_lines": 0}, "last_lines", "1 to 200"),
        ({"last_lines": 201}, "last_lines", "1 to 200"),
        ({"last_lines": True}, "last_lines", "1 to 200"),
        ({"last_lines": 2.5}, "last_lines", "1 to 200"),
        ({"min_busy": -1}, "min_busy", "from 0"),
        ({"min_busy": float("nan")}, "min_busy", "from 0"),
        ({"min_busy": "10"}, "min_busy", "from 0"),
        ({"commands": "bash"}, "commands", "list of 1 to"),
        ({"commands": []}, "commands", "list of 1 to"),
        ({"commands": ["ba\nsh"]}, "commands", "not a usable glob"),
        ({"choices": []}, "choices", "list of 1 to 16"),
        ({"choices": [{"label": "a", "keys": ["a"]}] * 17}, "choices", "list of 1 to 16"),
        ({"choices": ["yes"]}, "choices[1]", "must be a table"),
        ({"choices": [{"label": "a", "keys": ["a"], "colour": 1}]}, "choices[1]", "unknown key 'colour'"),
        ({"choices": [{"label": "a", "keys": []}]}, "choices[1]", "keys must be a list of 1 to"),
        ({"choices": [{"label": "a", "keys": [""]}]}, "choices[1]", "a key must be 1 to"),
        ({"choices": [{"label": "a"}]}, "choices[1]", "keys must be a list"),
        ({"choices": [{"label": "a", "keys": ["\u0003"]}]}, "choices[1]", "control character"),
        ({"choices": [{"label": "a", "keys": ["y\r"]}]}, "choices[1]", "control character"),
        ({"choices": [{"label": "a", "keys": ["\u001b[A"]}]}, "choices[1]", "control character"),
        ({"choices": [{"label": "a", "keys": ["\u009b"]}]}, "choices[1]", "control character"),
        ({"choices": [{"label": "x" * 81, "keys": ["a"]}]}, "choices[1]", "label must be 1 to 80"),
        ({"choices": [{"label": "a\u2028b", "keys": ["a"]}]}, "choices[1]", "label must be"),
        ({"state": "done", "choices": [{"label": "a", "keys": ["a"]}]}, "choices", "asks nothing"),
        ({"state": "done", "menu": "(?P<key>x)(?P<label>y)"}, "menu", "asks nothing"),
    ],
)
def test_a_bad_rule_is_refused_naming_file_rule_and_field(fields: dict[str, Any], field: str, says: str) -> None:
    message = refused(toml(rule(name="first"), rule(**{"name": "second", **fields})))
    name = fields.get("name", "second")
    who = f"rule '{name}' (#2)" if isinstance(name, str) else "rule #2"
    assert f"my.toml: {who}: '{field}': " in message, message
    assert says in message, message


def test_duplicate_names_in_one_file_are_refused() -> None:
    assert "rule 'r' (#2): duplicate name" in refused(toml(rule(), rule()))


# -- hostile input, generated ---------------------------------------------------

_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
_scalar = st.one_of(_text, st.integers(-(2**70), 2**70), st.floats(), st.booleans())
_value = st.recursive(_scalar, lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(_text, inner, max_size=4)), max_leaves=12)
_field = st.sampled_from(["name", "tool", "state", "commands", "last_lines", "match", "question", "menu", "menu_keys", "choices", "min_busy"])


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.dictionaries(st.one_of(_field, _text), _value, max_size=8), max_size=4))
def test_any_generated_file_loads_or_is_refused_with_a_rules_error(tables: list[dict[str, Any]]) -> None:
    try:
        parse_rules(toml(*tables), "fuzz.toml")
    except RulesError as e:
        assert str(e).startswith("fuzz.toml: ")


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.fixed_dictionaries(
        {"name": st.just("g"), "tool": st.just("T"), "state": st.sampled_from(["waiting", "done"]), "match": _text},
        optional={"question": _text, "menu": _text, "last_lines": st.integers(-5, 300), "min_busy": _scalar},
    )
)
def test_generated_rules_with_plausible_fields_load_or_are_refused(table: dict[str, Any]) -> None:
    try:
        parse_rules(toml(table), "fuzz.toml")
    except RulesError as e:
        assert str(e).startswith("fuzz.toml: rule 'g' (#1): '")


_screen_line = st.text(st.characters(blacklist_categories=("Cs",)), max_size=200)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_screen_line, max_size=60), st.text(max_size=20), st.floats(allow_nan=False))
def test_any_screen_gives_clean_bounded_matches(lines: list[str], command: str, busy_for: float) -> None:
    menu = rules_of(rule(match=".", menu=r"(?P<key>\S+) (?P<label>\S.*)", last_lines=200))
    for rules in (load_rules(), menu, Rules(parse_rules(MENU_RULE, "t"))):
        found = rules.match(lines, command, busy_for)
        if found is None:
            continue
        assert not CONTROL.search(found.question) and len(found.question) <= MAX_QUESTION
        assert len(found.choices) <= MAX_CHOICES
        for choice in found.choices:
            assert choice.label and not CONTROL.search(choice.label) and len(choice.label) <= MAX_LABEL
            assert choice.keys and all(k and not CONTROL.search(k) for k in choice.keys)


def test_the_example_in_data_flow_loads_and_matches() -> None:
    # DATA-FLOW.md documents the format with an example: keep it true.
    text = (Path(__file__).resolve().parents[2] / "DATA-FLOW.md").read_text(encoding="utf-8")
    section = text.split("## Pane states: rules as data", 1)[1]
    example = section.split("```toml\n", 1)[1].split("```", 1)[0]
    rules = Rules(parse_rules(example, "DATA-FLOW.md"))
    found = rules.match(["$ ./deploy.sh", "Deploy to production?", " 1) Yes", " 2) No"], "deploy.sh", 0)
    assert found is not None and found.question == "Deploy to production?"
    assert found.choices == (Choice("Yes", ("1", "Enter")), Choice("No", ("2", "Enter")))
