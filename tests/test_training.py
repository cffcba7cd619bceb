"""Training the tagger: gold forms become labels, a model trained on a tiny gold finds what it was taught."""

import json
from pathlib import Path

import pytest

from kg.errors import ModelError
from kg.evaluate import gold_split
from kg.extract import load_extractor
from kg.extract.tagger_model import TaggerModel, tagger_digest
from kg.extract.training import GoldNote, cross_validate, gold_spans, read_gold_notes, train_tagger
from kg.notes import parse_note

TEACH = [
    ("# 记\n\n诺曼·卡尔森在瓦尔维克港修了一座灯塔。Zyxo Labs 发布了 Quintor 框架。\n", {
        "Person": [["诺曼·卡尔森"]], "Place": [["瓦尔维克港"]], "Organization": [["Zyxo Labs"]],
        "Technology": [["Quintor"]]}),
    ("# 又记\n\n后来诺曼·卡尔森离开了瓦尔维克港。很多人用 Quintor 写程序。\n", {
        "Person": [["诺曼·卡尔森"]], "Place": [["瓦尔维克港"]], "Technology": [["Quintor"]]}),
    ("# Notes\n\nZyxo Labs maintains Quintor. Norman Carlsen lives in Valvik.\n", {
        "Organization": [["Zyxo Labs"]], "Technology": [["Quintor"]], "Person": [["Norman Carlsen"]],
        "Place": [["Valvik"]]}),
]


def gold_notes() -> list[GoldNote]:
    return [GoldNote(parse_note(text, f"n{i}.md"), ents) for i, (text, ents) in enumerate(TEACH)]


@pytest.fixture(scope="module")
def taught(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    report = train_tagger(gold_notes() * 4, folder, params={"max_iterations": 60})
    return folder, report


def test_gold_forms_are_found_longest_first_and_latin_on_word_boundaries():
    spans = gold_spans("Zyxo Labs 的 Zyxo; Zyxonic 不是", {"Organization": [["Zyxo Labs"]], "Technology": [["Zyxo"]]})
    assert spans == [(0, 9, "Organization", False), (12, 16, "Technology", False)]
    assert gold_spans("赫鲁晓夫", {}, {"Person": [["赫鲁晓夫"]]}) == [(0, 4, "Person", True)]


def test_training_writes_a_model_that_records_what_it_saw(taught):
    folder, report = taught
    info = json.loads((folder / "tagger.json").read_text(encoding="utf-8"))
    assert report.notes == 12 and info["notes"] == sorted(f"n{i}.md" for i in range(3) for _ in range(4))
    assert info["entities"]["Person"] == report.labels["B-Person"] > 0 and info["digest"] == report.digest
    assert TaggerModel.load(folder).info["features_version"] == info["features_version"]


def test_a_taught_model_finds_what_it_was_taught(taught):
    folder, _ = taught
    x = load_extractor(tagger_dir=folder).extract(parse_note(TEACH[0][0], "n0.md"))
    found = {(e.type, e.name) for e in x.entities}
    assert {("Person", "诺曼·卡尔森"), ("Place", "瓦尔维克港"), ("Organization", "Zyxo Labs"),
            ("Technology", "Quintor")} <= found
    assert all(m.method == "tagger" and 0 < m.confidence < 0.9 for m in x.mentions)


def test_a_model_of_another_feature_version_is_refused(taught, tmp_path):
    folder, _ = taught
    for name in ("tagger.crfsuite", "tagger.json"):
        (tmp_path / name).write_bytes((folder / name).read_bytes())
    info = json.loads((tmp_path / "tagger.json").read_text(encoding="utf-8"))
    info["features_version"] = "0"
    (tmp_path / "tagger.json").write_text(json.dumps(info), encoding="utf-8")
    with pytest.raises(ModelError, match="kg train"):
        load_extractor(tagger_dir=tmp_path)
    with pytest.raises(ModelError, match="no trained tagger"):
        load_extractor(tagger_dir=tmp_path / "nothing")


def test_cross_validation_extracts_every_note_with_a_model_that_did_not_see_it():
    notes = gold_notes()
    found = cross_validate(notes, folds=3, params={"max_iterations": 30})
    assert sorted(found) == ["n0.md", "n1.md", "n2.md"]
    with pytest.raises(ModelError):
        cross_validate(notes, folds=1)


def test_gold_files_are_read_from_their_sources_and_only_the_asked_half(tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    names = ["a.md", "b.md", "c.md", "d.md", "e.md", "f.md"]
    for n in names:
        (notes / n).write_text("# t\n\n张三去了北京。\n", encoding="utf-8")
    gold = {"version": 2, "sources": ["notes"], "notes": {
        n: {"lang": "zh", "split": gold_split(n), "Person": [["张三"]]} for n in names}}
    path = tmp_path / "gold.json"
    path.write_text(json.dumps(gold, ensure_ascii=False), encoding="utf-8")
    dev = read_gold_notes(path, "dev")
    assert {g.note.path for g in dev} == {n for n in names if gold_split(n) == "dev"}
    assert all(g.entities == {"Person": [["张三"]]} for g in dev)
    gold["sources"] = ["elsewhere"]
    path.write_text(json.dumps(gold, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ModelError, match="source folders"):
        read_gold_notes(path)


def test_the_shipped_model_was_trained_on_no_test_note():
    info = TaggerModel.load().info
    gold = json.loads((Path(__file__).parent / "gold" / "annotated.json").read_text(encoding="utf-8"))
    test_half = {n for n, g in gold["notes"].items() if g["split"] == "test"}
    assert info["notes"] and not test_half & set(info["notes"])


def test_a_store_knows_its_tagger_by_the_digest_the_model_records(taught):
    folder, report = taught
    assert tagger_digest(folder) == report.digest != tagger_digest(folder / "none") == "none"


def test_the_software_list_comes_from_pygments_and_mimetypes_and_is_a_feature(tmp_path):
    from kg.extract.features import unit_features, units_of
    from kg.extract.lexicons import software_names, write_lexicons

    assert write_lexicons(tmp_path, ("software_names.txt",))["software_names.txt"] > 500
    made = {line for line in (tmp_path / "software_names.txt").read_text(encoding="utf-8").splitlines()
            if not line.startswith("#")}
    assert {"python", "lua", "bash", "png", "c++"} <= made and {"python", "lua", "png"} <= software_names()
    text = "用lua写的脚本，输出png图片"
    units = units_of(text)
    feats = {text[s:e]: f for (s, e), f in zip(units, unit_features(text, units, [], []))}
    assert "soft" in feats["lua"] and "soft" in feats["png"] and "soft" not in feats["用"]
