"""Every saved query in queries/ runs and answers on the hand-made graph (GraphQL and SPARQL)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from test_api_graph import api_store  # noqa: F401 - the fixture

from kg.api.query import QueryRunner
from kg.store import EmbeddedStore

QUERIES = Path(__file__).resolve().parent.parent / "queries"
GRAPHQL = sorted(QUERIES.glob("*.graphql"))
SPARQL = sorted(QUERIES.glob("*.rq"))
_VARS_RE = re.compile(r"^#\s*variables:\s*(\{.*\})\s*$", re.MULTILINE)


def saved_variables(text: str) -> dict:
    m = _VARS_RE.search(text)
    return json.loads(m.group(1)) if m else {}


def test_the_questions_users_ask_have_saved_queries():
    names = {p.stem for p in GRAPHQL}
    assert {"sources_covering", "people_linked_to_org", "events_in_years", "path_between_people",
            "central_in_community"} <= names
    assert {"sources_covering", "people_linked_to_org", "events_in_years", "central_in_community"} <= \
        {p.stem for p in SPARQL}


@pytest.mark.parametrize("path", GRAPHQL, ids=[p.name for p in GRAPHQL])
def test_saved_graphql_query_answers(path, api_store):  # noqa: F811
    text = path.read_text(encoding="utf-8")
    assert _VARS_RE.search(text), f"{path.name} should say its example variables in a '# variables:' line"
    runner = QueryRunner(api_store)
    try:
        result = runner.run(text, saved_variables(text))
    finally:
        runner.close()
    assert "errors" not in result, result
    for name, value in result["data"].items():
        assert value, f"{path.name}: {name} is empty on the test graph"


@pytest.mark.parametrize("path", SPARQL, ids=[p.name for p in SPARQL])
def test_saved_sparql_query_answers(path, api_store):  # noqa: F811
    body, media = EmbeddedStore(api_store).query_bytes(path.read_text(encoding="utf-8"), "json")
    assert media == "application/sparql-results+json"
    rows = json.loads(body)["results"]["bindings"]
    assert rows, f"{path.name} found nothing on the test graph"


_NAME_RE = re.compile(r'VALUES \?\w+ \{ "([^"]+)" \}')
NAMED = [p for p in SPARQL if _NAME_RE.search(p.read_text(encoding="utf-8"))]


@pytest.mark.parametrize("path", NAMED, ids=[p.name for p in NAMED])
def test_saved_sparql_query_answers_for_the_name_it_is_given(path, api_store):  # noqa: F811
    # a name bound outside a sub-select that does not project it is not the sub-select's: it would answer
    # for every entity
    text = path.read_text(encoding="utf-8")
    line = _NAME_RE.search(text)
    unknown = text.replace(line.group(0), line.group(0).replace(line.group(1), "no entity has this name"))
    body, _ = EmbeddedStore(api_store).query_bytes(unknown, "json")
    assert json.loads(body)["results"]["bindings"] == [], f"{path.name} answers for a name nobody has"
