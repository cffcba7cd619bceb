"""One relatedness record per pair of entities (issue #18): the weight and evidence once, the rank on each
side that keeps the other, and ``related`` answering each side as the link pass ranks it."""

from __future__ import annotations

import pytest
from test_links import build_store, hand_extract  # noqa: F401 - the helpers of the link tests

from kg import links
from kg.api.query import QueryRunner
from kg.notes import parse_note
from kg.store import open_store
from kg.vocab import entity_iri

NOTE = """# Notes

Alice met Bob in Lyon.

Alice and Bob wrote a book.

Alice once called Carol.
"""
NAMES = [("Person", "Alice", ()), ("Person", "Bob", ()), ("Person", "Carol", ())]
A, B, C = (str(entity_iri(f"Person/{n}")) for n in ("Alice", "Bob", "Carol"))
_RELATED = """query($n: String!) { entity(name: $n) { related(first: 1) { rank weight method from { iri } to { iri }
  evidence { mention { iri entity { iri } } } } } }"""


@pytest.fixture(scope="module")
def pair_store(tmp_path_factory):
    # top_k 1: Alice and Bob rank each other first; Carol ranks Alice, whom Alice does not keep
    return build_store(tmp_path_factory.mktemp("pairs"), [(parse_note(NOTE, "n.md"), NAMES)], top_k=1)


def test_one_record_per_pair_with_the_rank_of_each_side(pair_store):
    rows = open_store(pair_store).select("""SELECT ?r ?a ?b ?w ?rf ?rt WHERE { ?r a kg:Relatedness ;
        kg:fromEntity ?a ; kg:toEntity ?b ; kg:weight ?w . OPTIONAL { ?r kg:rankFrom ?rf } OPTIONAL { ?r kg:rankTo ?rt } }""")
    got = {(str(r["a"]), str(r["b"])): (r["rf"], r["rt"]) for r in rows}
    assert len(rows) == len(got) == 2
    assert got == {(A, B): (1, 1), (A, C): (None, 1)}  # ends in IRI order; Alice does not rank Carol


def test_related_answers_each_side_as_the_link_pass_ranks_it(pair_store):
    data = links.load_link_input(open_store(pair_store).select)
    graph = links.project_graph(data)
    runner = QueryRunner(pair_store)
    answers = {}
    try:
        for name, iri, other in (("Alice", A, B), ("Bob", B, A), ("Carol", C, A)):
            res = runner.run(_RELATED, {"n": name})
            assert not res.get("errors"), res
            [r] = answers[name] = res["data"]["entity"]["related"]
            [want] = links.related_in(graph, iri, 1)
            assert (r["from"]["iri"], r["to"]["iri"], r["rank"]) == (iri, other, 1) and want.to_entity == other
            assert r["weight"] == pytest.approx(want.weight)
            assert r["method"] == links.RELATED_METHOD
            assert {e["mention"]["entity"]["iri"] for e in r["evidence"]} == {iri, other}  # names both ends
    finally:
        runner.close()
    # both sides of the one record: the same weight and evidence
    (a,), (b,) = answers["Alice"], answers["Bob"]
    assert (a["weight"], a["evidence"]) == (b["weight"], b["evidence"])


def test_pairs_of_directed_records():
    forward = links.Related(A, B, 0.5, 2, "m", ("x",))
    back = links.Related(B, A, 0.5, 1, "m", ("x",))
    [p] = links.related_pairs([back, forward])
    assert (p.from_entity, p.to_entity, p.weight, p.evidence, p.rank_from, p.rank_to) == (A, B, 0.5, ("x",), 2, 1)
    # an incremental pass redid Bob's row only: its weight and evidence stand for the pair
    [p] = links.related_pairs([forward, links.Related(B, A, 0.7, 1, "m", ("y",))], fresh={B})
    assert (p.weight, p.evidence, p.rank_from, p.rank_to) == (0.7, ("y",), 2, 1)
