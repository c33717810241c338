"""The before/after diff of audit events: every leaf, by path, with how it changed."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from secretome.domain.diff import Change, value_diff


def test_a_change_of_a_nested_value_is_named_by_its_path_and_the_rest_shown_as_same() -> None:
    before = {"status": "draft", "attributes": [{"code": "ph", "lower": "7.0"}], "version": 2}
    after = {"status": "approved", "attributes": [{"code": "ph", "lower": "7.2"}], "version": 2}
    rows = {row.path: row for row in value_diff(before, after)}
    assert list(rows) == ["attributes[0].code", "attributes[0].lower", "status", "version"]
    assert rows["attributes[0].lower"].change is Change.CHANGED
    assert (rows["attributes[0].lower"].before, rows["attributes[0].lower"].after) == ('"7.0"', '"7.2"')
    assert rows["status"].change is Change.CHANGED and rows["version"].change is Change.SAME


def test_a_created_record_shows_every_value_as_added_and_a_removed_key_as_removed() -> None:
    created = value_diff(None, {"username": "ana", "role": "analyst"})
    assert [(r.path, r.before, r.after, r.change) for r in created] == [
        ("role", None, '"analyst"', Change.ADDED),
        ("username", None, '"ana"', Change.ADDED),
    ]
    (removed,) = [r for r in value_diff({"a": 1, "b": 2}, {"a": 1}) if r.change is not Change.SAME]
    assert (removed.path, removed.before, removed.after) == ("b", "2", None)


def test_a_value_that_is_not_an_object_is_one_leaf_and_long_values_are_kept_whole() -> None:
    long_text = "x" * 5000
    (row,) = value_diff("short", long_text)
    assert row.path == "" and row.after == f'"{long_text}"' and row.change is Change.CHANGED


def test_an_empty_list_or_object_is_a_leaf_of_its_own() -> None:
    rows = value_diff({"tags": []}, {"tags": ["a"]})
    assert [(r.path, r.change) for r in rows] == [("tags", Change.REMOVED), ("tags[0]", Change.ADDED)]


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=10,
)


@given(_json)
def test_a_value_compared_with_itself_is_all_same(value: object) -> None:
    assert all(row.change is Change.SAME for row in value_diff(value, value)) or value is None
