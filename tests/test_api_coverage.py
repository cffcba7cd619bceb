"""The coverage ranking index of the GraphQL layer: the same order as the store's own ranking, on real stores.

``sources(covering:)`` and ``Entity.sources`` take an entity's best coverages from an in-memory index
(built once per generation, :func:`kg.api.backend.build_coverage_index`) and read details for those only.
These tests hold the index, and the answers built from it, to a ranking done by the store itself.
"""

from __future__ import annotations

import time

import pytest
from rdflib import URIRef
from test_api_graph import api_store, build_api_store, link_triples, notes_and_extractions  # noqa: F401

from kg.api.query import QueryRunner
from kg.api.backend import GraphBackend, build_coverage_index
from kg.api.records import values
from kg.store import EmbeddedStore, write_store
from kg.vocab import KG, LINKS_GRAPH

# One entity's coverage ranked by the store: score, direct first, source URL, source IRI.
_RANK = """
SELECT ?e ?cov ?src ?score ?direct ?url WHERE {{
  {values}
  ?cov kg:entity ?e ; kg:source ?src .
  OPTIONAL {{ ?cov kg:score ?score }} OPTIONAL {{ ?cov kg:direct ?direct }}
  ?src kg:url ?url .
}} ORDER BY DESC(?score) DESC(?direct) ?url ?src"""

_COVERED = "SELECT DISTINCT ?e WHERE { GRAPH ?g { ?cov kg:entity ?e } }"

_ALL = """
SELECT ?e ?cov ?src ?score ?direct ?url ?just WHERE {
  ?cov kg:entity ?e ; kg:source ?src ; kg:score ?score ; kg:direct ?direct .
  ?src kg:url ?url .
  OPTIONAL { ?cov kg:justification ?just }
}"""

SOURCES = """query ($t: String!, $n: Int) { sources(covering: $t, first: $n) {
  iri score direct justification source { iri url title section note { path } } entity { iri } } }"""


@pytest.fixture(params=["sample_store", "api_store"])
def real_store(request) -> EmbeddedStore:
    """A store built by the pipeline from the sample notes, and the hand-made API store."""
    return EmbeddedStore(request.getfixturevalue(request.param))


def test_the_index_ranks_every_entity_as_the_store_does(real_store):
    s = real_store
    index = build_coverage_index(s.snapshot())
    covered = {r["e"] for r in s.select(_COVERED)}
    assert covered, "the store has coverage to rank"
    assert set(index) == covered
    for e in covered:
        expected = tuple(r["cov"] for r in s.select(_RANK.format(values=values("e", [e]))))
        assert index[e] == expected, e


def _expected_sources(s: EmbeddedStore, iris: list[str], first: int) -> list[tuple]:
    """What ``sources`` answers, computed from the store alone: the best coverage per source, best first."""
    best: dict[str, tuple] = {}
    for r in s.select(_ALL):
        if r["e"] not in iris:
            continue
        row = (-r["score"], not r["direct"], r["url"], r["src"], r["cov"], r["just"])
        if r["src"] not in best or row[:2] < best[r["src"]][:2]:
            best[r["src"]] = row
    return [(x[4], -x[0], not x[1], x[5], x[2]) for x in sorted(best.values())[:first]]


def test_sources_answers_match_a_ranking_by_the_store(real_store):
    s = real_store
    runner = QueryRunner(s)
    try:
        cat = runner.backend.snapshot().catalogue
        covered = {r["e"] for r in s.select(_COVERED)}
        names = sorted({cat.entities[e].name for e in covered if e in cat.entities})
        assert names
        for name in names:
            iris = [r.iri for r in cat.lookup(name)]
            for first in (1, 3, 500):
                data = runner.run(SOURCES, {"t": name, "n": first})
                assert "errors" not in data, data
                got = [(c["iri"], c["score"], c["direct"], c["justification"], c["source"]["url"])
                       for c in data["data"]["sources"]]
                assert got == _expected_sources(s, iris, first), (name, first)
        # Entity.sources, many parents in one batch: each entity's own best coverages
        page = runner.run("{ entities(first: 500) { edges { node { iri sources(first: 2) { iri } } } } }")
        for edge in page["data"]["entities"]["edges"]:
            node = edge["node"]
            assert [c["iri"] for c in node["sources"]] == [x[0] for x in _expected_sources(s, [node["iri"]], 2)]
    finally:
        runner.close()


def test_a_new_generation_gets_a_new_index(tmp_path):
    store = build_api_store(tmp_path / ".kg")
    runner = QueryRunner(GraphBackend(store))
    try:
        urls = lambda: [c["source"]["url"] for c in runner.run(SOURCES, {"t": "PLE", "n": 20})["data"]["sources"]]
        assert urls() == ["https://example.org/ple", "https://example.org/mmoe"]
        # the links graph again, without the inferred coverage of PLE by the MMoE source
        triples = link_triples(notes_and_extractions())
        dropped = {t[0] for t in triples if t[1] == KG.justification}
        kept = [t for t in triples if t[0] not in dropped and not (isinstance(t[2], URIRef) and t[2] in dropped)]
        with write_store(store) as w:
            w.replace_graph(str(LINKS_GRAPH), kept)
            w.commit()
        time.sleep(0.25)  # EmbeddedStore looks for a new generation at most every 0.2 s
        assert urls() == ["https://example.org/ple"]
    finally:
        runner.close()


def test_a_server_backend_reads_the_index_ahead(api_store):  # noqa: F811
    backend = GraphBackend(api_store, warm=True)
    try:
        cat = backend.snapshot().catalogue
        deadline = time.monotonic() + 10
        while cat._coverage is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert cat._coverage == build_coverage_index(backend.snapshot().store)
    finally:
        backend.close()
    lazy = GraphBackend(api_store)  # kg query: the index is read only when a request needs it
    try:
        assert lazy.snapshot().catalogue._coverage is None
    finally:
        lazy.close()
