"""Gold files and per-type precision / recall / F1."""

import json

import pytest

from kg.errors import EvalError
from kg.evaluate import evaluate, load_gold, parse_gold

GOLD = {"notes": {
    "a.md": {"Person": [["池田成彬"], ["小西行长", "小西"]], "Paper": [["Progressive Layered Extraction", "PLE"]],
             "optional": {"Paper": [["MTL"]]}},
    "b.md": {"Person": [["小西"]], "Place": ["东京"]},
}}


def test_scores_per_type_with_aliases_and_optional():
    gold = parse_gold(GOLD)
    report = evaluate([
        ("Person", "池田成彬", ()), ("Person", "田成彬", ()),
        ("Paper", "PLE", ()), ("Paper", "MTL", ()),
        ("Place", "東京", ()),  # different form, does not match
        ("Organization", "东京", ()),
    ], gold)
    person = report.score("Person")
    assert (person.true_positives, person.predicted, person.gold, person.found) == (1, 2, 2, 1)
    assert person.precision == 0.5 and person.recall == 0.5
    paper = report.score("Paper")
    assert paper.precision == 1.0 and paper.recall == 1.0  # alias matched, optional MTL not counted
    assert report.score("Place").recall == 0.0
    assert report.score("Organization").precision == 0.0
    table = report.format(details=True)
    assert "Person" in table and "0.500" in table and "田成彬" in table


def test_same_name_in_two_notes_is_one_gold_entity():
    assert len(parse_gold(GOLD).entities["Person"]) == 2


def test_matching_ignores_case_and_spacing():
    gold = parse_gold({"notes": {"a": {"Paper": [["One Model to Learn Them All"]]}}})
    assert evaluate([("Paper", "One  Model To Learn Them All", ())], gold).score("Paper").f1 == 1.0


@pytest.mark.parametrize("data", [[], {"notes": []}, {"notes": {"a": {"Planet": [["x"]]}}},
                                  {"notes": {"a": {"Person": [[]]}}}, {"notes": {"a": {"Person": "x"}}}])
def test_bad_gold_raises(data):
    with pytest.raises(EvalError):
        parse_gold(data)


def test_load_gold_names_the_file(tmp_path):
    path = tmp_path / "g.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(EvalError) as info:
        load_gold(path)
    assert str(path) in str(info.value)
    path.write_text(json.dumps(GOLD), encoding="utf-8")
    assert load_gold(path).notes == ("a.md", "b.md")
