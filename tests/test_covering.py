"""Which sources cover X, for any X (issue 16): on small notes of our own, through the real link pass and GraphQL.

Entities are made by hand (``hand_extract``: a name list found in the prose), so that what is and is not an
entity is known; the link pass (:func:`kg.links.relink`), the stores and the GraphQL layer are the real ones.
These stores have no text index file, so the API makes its index from the graph, as for a store in a SPARQL
server; ``test_textindex.py`` tests the file a build keeps in each generation.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_links import hand_extract

from kg import links
from kg.api.query import QueryRunner
from kg.notes import parse_note
from kg.entity_graph import entities_graph_triples
from kg.rdf import note_triples
from kg.store import write_store
from kg.vocab import ENTITIES_GRAPH, LINKS_GRAPH

COLD = """---
title: 冷战笔记
---

# 冷战

1959年赫鲁晓夫访问美国，在戴维营与艾森豪威尔会谈。

https://example.org/camp-david

一次改变冷战走向的访问

---

马步芳是青海的军阀。马步芳的儿子马继援也带兵打仗。

https://example.org/ma

一个年纪轻轻的毛头小伙，却被彭德怀视为劲敌

---

https://example.org/ma-bufang

马步芳传

https://example.org/qinghai

青海军阀史话
"""
COLD_NAMES = [("Person", "艾森豪威尔", ()), ("Person", "马步芳", ()), ("Person", "马继援", ()),
              ("Person", "彭德怀", ()), ("Place", "美国", ()), ("Place", "青海", ())]

TOOLS = """# Tools

Jeff Dean gave the keynote about large-scale systems.

https://example.org/keynote

Keynote at the systems conference

https://example.org/ripples#PLE

RIPPLES: a Simple Pooling way to IMPLEMENT things

https://example.org/ple

PLE explained

- [Datasette](https://datasette.io/) publishes SQLite databases; its plugins are written in Python.
"""
TOOLS_NAMES = [("Paper", "RIPPLES", ()), ("Paper", "Simple Pooling", ()), ("Paper", "PLE", ())]

REC = """# 推荐

MMOE 是谷歌的多任务模型。

---

https://example.org/multi

多目标学习在推荐系统的应用(MMOE/ESMM/PLE)

https://example.org/trio

Rust, SQLite and Datasette in one afternoon
"""
REC_NAMES = [("Paper", "MMOE/ESMM/PLE", ()), ("Paper", "MMOE", ())]

SOURCES = """query ($t: String!, $n: Int) { sources(covering: $t, first: $n) {
  score direct how match justification source { url title } entity { name }
  evidence { text sentence start end note { path } mention { iri } } } }"""


def covering_store(tmp: Path, notes: dict[str, tuple[str, list]]) -> Path:
    """Note graphs with hand extractions and the link pass, written as a build writes them."""
    store = tmp / ".kg"
    with write_store(store) as w:
        exs = []
        for path, (text, names) in notes.items():
            note = parse_note(text, path)
            exs.append(hand_extract(note, names))
            w.replace_note(path, note_triples(note, exs[-1]))
        w.replace_graph(str(ENTITIES_GRAPH), entities_graph_triples(exs))
        w.flush()
        links.relink(w.oxigraph, str(LINKS_GRAPH), cache_out=w.target / links.CACHE_FILE)
        w.commit()
    links.wait_for_cache(next(store.glob("gen-*")) / links.CACHE_FILE)
    return store


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    store = covering_store(tmp_path_factory.mktemp("covering"), {
        "cold.md": (COLD, COLD_NAMES), "tools.md": (TOOLS, TOOLS_NAMES), "rec.md": (REC, REC_NAMES)})
    r = QueryRunner(store)
    yield r
    r.close()


def sources(runner, term: str, n: int = 20) -> list[dict]:
    res = runner.run(SOURCES, {"t": term, "n": n})
    assert "errors" not in res, res["errors"]
    return res["data"]["sources"]


def urls(answers: list[dict]) -> list[str]:
    return [a["source"]["url"] for a in answers]


# ---------------------------------------------------------------- a term that is no entity


def test_a_term_that_is_no_entity_is_answered_from_the_text(runner):
    got = sources(runner, "赫鲁晓夫")
    assert urls(got) == ["https://example.org/camp-david"]
    a = got[0]
    assert a["how"] == "text match" and a["match"] == "text" and a["entity"] is None
    assert "no entity is named '赫鲁晓夫'" in a["justification"]
    ev = a["evidence"][0]
    assert ev["text"] == "赫鲁晓夫" and ev["mention"] is None and ev["note"]["path"] == "cold.md"
    assert COLD[ev["start"]:ev["end"]] == "赫鲁晓夫" and "访问美国" in ev["sentence"]


def test_an_english_name_and_tools_no_entity_stands_for(runner):
    got = sources(runner, "Jeff Dean")
    assert urls(got) == ["https://example.org/keynote"] and got[0]["how"] == "text match"
    assert TOOLS[got[0]["evidence"][0]["start"]:got[0]["evidence"][0]["end"]] == "Jeff Dean"
    # the title of an inline link, and the list item it stands in (its context)
    assert [(a["source"]["url"], a["how"]) for a in sources(runner, "Datasette")] == [
        ("https://datasette.io/", "text match"), ("https://example.org/trio", "text match")]
    assert set(urls(sources(runner, "SQLite"))) == {"https://datasette.io/", "https://example.org/trio"}
    title_first = sources(runner, "SQLite")
    assert urls(title_first)[0] == "https://example.org/trio"  # a title ranks above a context
    assert urls(sources(runner, "python")) == ["https://datasette.io/"]  # (case does not matter for words)


def test_a_term_found_nowhere_is_an_error_naming_the_nearest_names(runner):
    r = runner.run(SOURCES, {"t": "马步方", "n": 5})
    assert r["data"] == {"sources": None}
    err = r["errors"][0]
    assert err["extensions"]["code"] == "not_found" and "'马步方'" in err["message"]
    assert "nearest names: 马步芳" in err["message"]
    r = runner.run('{ related(name: "Eisenhower") { weight } }')
    assert r["errors"][0]["extensions"]["code"] == "not_found" and "no entity named 'Eisenhower'" in \
        r["errors"][0]["message"]


def test_kg_query_says_no_entity_named_and_the_nearest_names(runner, tmp_path):
    from typer.testing import CliRunner

    from kg.cli import app

    store = runner.backend.store.location
    out = CliRunner().invoke(app, ["query", "query($t: String!) { entity(name: $t) { name } }", "--store", store,
                                   "--var", "t=彭德淮"])
    assert out.exit_code == 2
    assert "no entity named '彭德淮'; nearest names: 彭德怀" in out.output


def test_a_word_of_an_entitys_name_finds_it_and_says_so(tmp_path):
    store = covering_store(tmp_path, {"jp.md": ("""# 幕末

1853年黑船事件之后，日本开国。

https://example.org/perry

佩里与黑船事件
""", [("Event", "黑船事件", ()), ("Place", "日本", ())])})
    r = QueryRunner(store)
    try:
        got = sources(r, "黑船")
    finally:
        r.close()
    assert urls(got) == ["https://example.org/perry"]
    a = got[0]
    assert a["entity"]["name"] == "黑船事件" and a["how"] == "title"
    assert a["match"] == "a word of the name 黑船事件" and "no entity is named '黑船'" in a["justification"]


# ---------------------------------------------------------------- a term named only in the note before a link


def test_a_term_named_only_before_the_link_is_context_coverage(runner):
    got = sources(runner, "马步芳")
    assert [(a["source"]["url"], a["how"]) for a in got][:2] == [
        ("https://example.org/ma-bufang", "title"), ("https://example.org/ma", "context")]
    title, context = got[0], got[1]
    assert context["direct"] and context["entity"]["name"] == "马步芳"
    assert 1.0 <= context["score"] < 1.5 <= title["score"] < 2.0
    assert all(a["score"] < 1.0 and a["how"] == "inferred" for a in got[2:])
    # the evidence is the mention in the prose before the link, with its sentence
    ev = context["evidence"][0]
    assert ev["mention"]["iri"] and COLD[ev["start"]:ev["end"]] == "马步芳" and "军阀" in ev["sentence"]
    assert context["justification"].startswith("context: the prose the link belongs to names")
    # the title's own name is a title hit there, the paragraph's names are context hits
    assert [(a["source"]["url"], a["how"]) for a in sources(runner, "彭德怀")] == [("https://example.org/ma", "title")]
    assert ("https://example.org/ma", "context") in [(a["source"]["url"], a["how"]) for a in sources(runner, "马继援")]


def test_a_context_does_not_reach_past_the_last_reference(runner):
    # 马继援 stands before /ma only: the reference list after it (/ma-bufang, /qinghai) has no prose
    got = sources(runner, "马继援")
    assert [a["source"]["url"] for a in got if a["how"] == "context"] == ["https://example.org/ma"]
    assert "https://example.org/camp-david" not in urls(got)


# ---------------------------------------------------------------- acronyms inside words and URLs


def test_an_acronym_inside_a_word_or_a_url_hash_is_not_it(runner):
    got = sources(runner, "PLE")
    assert set(urls(got)) == {"https://example.org/ple", "https://example.org/multi"}
    assert all(a["how"] == "title" for a in got)
    assert "https://example.org/ripples#PLE" not in urls(got)  # RIPPLES, IMPLEMENT and the URL's #PLE
    data = runner.run('{ entities(search: "PLE") { totalCount edges { node { name } } } }')["data"]
    assert [e["node"]["name"] for e in data["entities"]["edges"]] == ["PLE", "MMOE/ESMM/PLE"]
    data = runner.run('{ entities(search: "simple") { edges { node { name } } } }')["data"]
    assert [e["node"]["name"] for e in data["entities"]["edges"]] == ["Simple Pooling"]  # a word prefix
    r = runner.run(SOURCES, {"t": "IMPL", "n": 5})
    assert r["errors"][0]["extensions"]["code"] == "not_found"


# ---------------------------------------------------------------- lists in titles


def test_a_slash_list_in_a_title_yields_each_name(runner):
    # MMOE is an entity of its own: the title lists it, so the title names it
    got = sources(runner, "MMOE")
    assert got[0]["source"]["url"] == "https://example.org/multi" and got[0]["entity"]["name"] == "MMOE"
    assert got[0]["how"] == "title" and got[0]["match"] == "name"
    # ESMM is no entity: the list-named one stands for it, and the words are in the title
    got = sources(runner, "ESMM")
    assert urls(got)[0] == "https://example.org/multi" and got[0]["how"] == "title"
    assert got[0]["entity"]["name"] == "MMOE/ESMM/PLE" and got[0]["match"] == "listed in the name MMOE/ESMM/PLE"
    assert all(a["how"] == "inferred" for a in got[1:])
    data = runner.run('{ entities(search: "ESMM") { edges { node { name } } } }')["data"]
    assert [e["node"]["name"] for e in data["entities"]["edges"]] == ["MMOE/ESMM/PLE"]


def test_a_comma_list_in_a_title_yields_each_name(runner):
    for name in ("Rust", "SQLite", "Datasette"):
        assert "https://example.org/trio" in urls(sources(runner, name)), name


# ---------------------------------------------------------------- links that read right


def _hub_notes() -> dict[str, tuple[str, list]]:
    """美国 in 80 snippets of 8 notes; 马斯克 with 美国 in three of his four snippets, with 特斯拉 in one."""
    people = [f"路人{chr(0x4e00 + i)}" for i in range(40)]
    notes = {}
    for k in range(8):
        snippets = [f"{people[(k * 10 + j) % 40]}去过美国。" for j in range(10)]
        notes[f"n{k}.md"] = ("# 杂记\n\n" + "\n\n---\n\n".join(snippets) + "\n",
                             [("Place", "美国", ())] + [("Person", p, ()) for p in people])
    notes["musk.md"] = ("""# 马斯克

马斯克在美国长大。

---

马斯克住在美国。

---

美国的报纸常写马斯克。

---

马斯克执掌特斯拉。

---

特斯拉是一家车企。
""", [("Person", "马斯克", ()), ("Place", "美国", ()), ("Organization", "特斯拉", ())])
    return notes


@pytest.fixture(scope="module")
def hub_runner(tmp_path_factory):
    notes = _hub_notes()
    notes["war.md"] = ("""# 人物

丘吉尔访问美国。

---

宫崎骏去过美国。

---

丘吉尔见了斯大林。

---

斯大林喜欢黑泽明的电影。

---

黑泽明和宫崎骏谈电影。
""", [("Person", n, ()) for n in ("丘吉尔", "宫崎骏", "斯大林", "黑泽明")] + [("Place", "美国", ())])
    notes["crowd.md"] = ("# 名单\n\n" + "、".join(f"甲{chr(0x4e00 + i)}" for i in range(16)) + "都是朋友。\n",
                         [("Person", f"甲{chr(0x4e00 + i)}", ()) for i in range(16)])
    r = QueryRunner(covering_store(tmp_path_factory.mktemp("hub"), notes))
    yield r
    r.close()


def test_relatedness_damps_hubs_and_its_evidence_names_both_ends(hub_runner):
    data = hub_runner.run('{ related(name: "马斯克") { rank weight to { name } '
                          'evidence { text sentence } } }')["data"]
    rel = data["related"]
    assert [r["to"]["name"] for r in rel] == ["特斯拉", "美国"]  # 美国 shares more snippets, but is everywhere
    for r in rel:
        sentences = {e["sentence"] for e in r["evidence"]}
        assert len(sentences) == 1, r  # both mentions are of one sentence, which names both ends
        (sentence,) = sentences
        assert "马斯克" in sentence and r["to"]["name"] in sentence


def test_paths_prefer_specific_links_over_hubs(hub_runner):
    steps = hub_runner.run('{ path(from: "丘吉尔", to: "宫崎骏") { from { name } to { name } evidence } }')
    names = [(s["from"]["name"], s["to"]["name"]) for s in steps["data"]["path"]]
    assert names == [("丘吉尔", "斯大林"), ("斯大林", "黑泽明"), ("黑泽明", "宫崎骏")]  # not through 美国


def test_first_is_honoured_beyond_what_the_link_pass_keeps(hub_runner):
    q = ('query($n: Int) { related(name: "甲一", first: $n) { rank weight to { name } evidence { text } } '
         'entity(name: "甲一") { related(first: $n) { rank } } }')
    data = hub_runner.run(q, {"n": 15})["data"]
    rel = data["related"]
    assert len(rel) == 15 > links.DEFAULTS["top_k"] and [r["rank"] for r in rel] == list(range(1, 16))
    assert len({r["to"]["name"] for r in rel}) == 15 and "甲一" not in {r["to"]["name"] for r in rel}
    weights = [r["weight"] for r in rel]
    assert weights == sorted(weights, reverse=True)
    assert all(len(r["evidence"]) == 2 for r in rel)  # the rows past the kept ones have their evidence too
    assert [r["rank"] for r in data["entity"]["related"]] == list(range(1, 16))
    # and no more than there are
    assert len(hub_runner.run(q, {"n": 40})["data"]["related"]) == 15
