"""GraphQL in-process: answers, paging, the SDL, limits, hostile input, errors, generations, `kg query`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from graphql import GraphQLError
from test_api_graph import api_store, build_api_store  # noqa: F401 - the fixture

from kg.api.query import QueryRunner, parse_var, run_query
from kg.api.backend import GraphBackend
from kg.api.limits import MAX_ALIASES, MAX_FIRST
from kg.api.schema import KGErrorExtension, build_schema, schema
from kg.errors import QueryError

REPO = Path(__file__).resolve().parent.parent
PLE = '{ sources(covering: "PLE") { source { url title note { path } section } score direct evidence { text } } }'


@pytest.fixture(scope="module")
def runner(api_store):  # noqa: F811
    r = QueryRunner(api_store)
    yield r
    r.close()


def ok(result: dict) -> dict:
    assert "errors" not in result, result.get("errors")
    return result["data"]


def codes(result: dict) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in result.get("errors", [])]


# ---------------------------------------------------------------- the schema


def test_the_committed_sdl_matches_the_code():
    committed = (REPO / "schemas" / "schema.graphql").read_text(encoding="utf-8")
    assert committed == str(schema) + "\n", (
        "schemas/schema.graphql drifted from kg/api/schema.py; regenerate it with\n"
        "  python -c \"from kg.api.schema import schema; open('schemas/schema.graphql','w').write(str(schema)+'\\n')\"")


def test_the_sdl_has_what_the_issue_asks_for():
    sdl = str(schema)
    for line in ["sources(covering: String!, first: Int = 20): [Coverage!]", "entity(name: String!): Entity",
                 "entities(type: EntityType = null, search: String = null, first: Int = 50, after: String = null): "
                 "EntityConnection!", "path(from: String!, to: String!): [PathStep!]", "note(path: String!): Note",
                 "stats: Stats!", "interface Entity", "type Person implements Entity", "enum EntityType"]:
        assert line in sdl, line


# ---------------------------------------------------------------- answers


def test_sources_covering_a_term_best_first(runner):
    data = ok(runner.run(PLE))
    got = [(s["source"]["url"], s["score"], s["direct"]) for s in data["sources"]]
    assert got == [("https://example.org/ple", 1.0, True), ("https://example.org/mmoe", 0.4, False)]
    first = data["sources"][0]
    assert first["source"]["note"]["path"] == "a.md" and first["source"]["section"] == "多任务学习 / 论文"
    assert first["evidence"][0]["text"] == "PLE"


def test_entity_by_name_alias_or_case(runner):
    for name in ("腾讯", "Tencent", "tencent", " TENCENT "):
        data = ok(runner.run("query($n: String!) { entity(name: $n) { name type aliases } }", {"n": name}))
        assert data["entity"] == {"name": "腾讯", "type": "ORGANIZATION", "aliases": ["Tencent"]}, name
    r = runner.run('{ entity(name: "Tencnet") { name } }')
    assert r["data"] == {"entity": None} and codes(r) == ["not_found"]
    assert r["errors"][0]["message"] == "no entity named 'Tencnet'; nearest names: Tencent (腾讯)"


def test_entity_fields_and_interface_types(runner):
    data = ok(runner.run('{ entity(name: "文化大革命") { __typename ... on Event { dates } '
                         'mentions(first: 1) { text note { path } } related(first: 1) { to { name } } } }'))
    e = data["entity"]
    assert e["__typename"] == "Event" and e["dates"] == ["1966", "1976"]
    assert e["mentions"][0]["text"] == "文化大革命" and e["related"][0]["to"]["name"] == "北京"


def test_entities_are_paged_relay_style(runner):
    seen, after = [], None
    while True:
        data = ok(runner.run("query($a: String) { entities(first: 2, after: $a) { totalCount "
                             "edges { cursor node { name } } pageInfo { hasNextPage endCursor } } }", {"a": after}))
        conn = data["entities"]
        seen += [e["node"]["name"] for e in conn["edges"]]
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert len(seen) == conn["totalCount"] == 7 and len(set(seen)) == 7
    people = ok(runner.run("{ entities(type: PERSON, search: \"三\") { totalCount edges { node { name } } } }"))
    assert [e["node"]["name"] for e in people["entities"]["edges"]] == ["张三"]


def test_related_path_note_events_central_stats(runner):
    data = ok(runner.run('{ related(name: "腾讯", type: PERSON) { to { name } weight } '
                         'path(from: "李四", to: "王五") { kind from { name } to { name } evidence note { path } } '
                         'note(path: "b.md") { title date category } '
                         'events(fromYear: 1970, toYear: 1980) { name } '
                         'central(community: 1, first: 2) { name } '
                         'stats { notes entities coverages relations byType { type count } } }'))
    assert [r["to"]["name"] for r in data["related"]] == ["张三", "李四"]
    assert [(s["from"]["name"], s["to"]["name"]) for s in data["path"]] == [("李四", "张三"), ("张三", "王五")]
    assert all(s["evidence"] and s["note"]["path"] for s in data["path"])
    assert data["note"] == {"title": "历史笔记", "date": "1999-05-04", "category": "history"}
    assert [e["name"] for e in data["events"]] == ["文化大革命"]
    assert [e["name"] for e in data["central"]] == ["王五", "北京"]
    assert data["stats"]["notes"] == 2 and data["stats"]["entities"] == 7 and data["stats"]["relations"] == 12


def test_path_to_an_unknown_entity_is_a_clear_error(runner):
    r = runner.run('{ path(from: "李四", to: "nobody") { kind } }')
    assert codes(r) == ["not_found"] and "nobody" in r["errors"][0]["message"]


# ---------------------------------------------------------------- limits and hostile input


def test_first_is_bounded(runner):
    r = runner.run(f'{{ sources(covering: "PLE", first: {MAX_FIRST + 1}) {{ score }} }}')
    assert codes(r) == ["bad_query"] and str(MAX_FIRST) in r["errors"][0]["message"]
    assert codes(runner.run('{ entities(first: -1) { totalCount } }')) == ["bad_query"]
    assert codes(runner.run('{ entity(name: "腾讯") { mentions(first: 100000) { text } } }')) == ["bad_query"]
    ok(runner.run(f'{{ entities(first: {MAX_FIRST}) {{ totalCount }} }}'))


def test_depth_bomb_is_refused(runner):
    q = "{ entity(name: \"腾讯\") { " + "related { to { " * 8 + "name" + " } }" * 8 + " } }"
    r = runner.run(q)
    assert r["data"] is None and "depth" in r["errors"][0]["message"]


def test_alias_bomb_is_refused(runner):
    q = "{ " + " ".join(f"a{i}: stats {{ notes }}" for i in range(MAX_ALIASES + 5)) + " }"
    r = runner.run(q)
    assert r["data"] is None and "aliases" in r["errors"][0]["message"].lower()
    # and through a fragment spread many times over
    frag = "fragment F on Query { " + " ".join(f"b{i}: stats {{ notes }}" for i in range(10)) + " }"
    q = "{ " + " ".join(f"c{i}: __typename ...F" for i in range(10)) + " } " + frag
    assert runner.run(q)["data"] is None


def test_token_bomb_and_huge_queries_are_refused(runner):
    q = "{ " + " ".join("__typename" for _ in range(5000)) + " }"
    r = runner.run(q)
    assert r["data"] is None and r["errors"]
    r = runner.run("{ stats { notes } }" + " " * 30_000)
    assert codes(r) == ["query_too_large"]


@pytest.mark.parametrize("name", [
    '" } ; DROP ALL ; #', "PLE\" . ?s ?p ?o . FILTER(\"", "\\\\u0022 } UNION { ?s ?p ?o", "'; SELECT * WHERE { ?s ?p ?o }",
    "<https://w3id.org/kg/id/entity/Paper/PLE>", "?e", "PLE\n#", "\\", '"""', "}}}}}", "\u202e\u0000x",
])
def test_injection_attempts_are_answered_as_plain_names(runner, name):
    r = runner.run("query($n: String!) { entity(name: $n) { name } sources(covering: $n) { score } "
                   "related(name: $n) { weight } note(path: $n) { path } }", {"n": name})
    if "\x00" in name:
        assert codes(r) and set(codes(r)) == {"bad_query"}
        return
    # no entity is named so and no source's text has it: each field says so; nothing else is answered
    assert r["data"] == {"entity": None, "sources": None, "related": None, "note": None}
    assert sorted(e["path"][0] for e in r["errors"]) == ["entity", "related", "sources"]
    assert set(codes(r)) == {"not_found"} and all(repr(name) in e["message"] for e in r["errors"])


def test_very_long_arguments_are_refused_clearly(runner):
    r = runner.run("query($n: String!) { entity(name: $n) { name } }", {"n": "长" * 100_000})
    assert codes(r) == ["bad_query"] and "characters" in r["errors"][0]["message"]


def test_bad_cursor_is_a_clear_error(runner):
    r = runner.run('{ entities(after: "not a cursor!") { totalCount } }')
    assert codes(r) == ["bad_query"] and "cursor" in r["errors"][0]["message"]


def test_time_limit_stops_a_request(api_store):  # noqa: F811
    slow = QueryRunner(api_store, schema=build_schema(time_limit=0.000001))
    try:
        r = slow.run(PLE)
    finally:
        slow.close()
    assert codes(r) == ["query_timeout"]


def test_production_switches_introspection_off(api_store):  # noqa: F811
    prod = QueryRunner(api_store, production=True)
    try:
        r = prod.run("{ __schema { types { name } } }")
        assert r["data"] is None and "introspection" in r["errors"][0]["message"].lower()
        ok(prod.run(PLE))
    finally:
        prod.close()


def test_unexpected_errors_are_masked_and_kg_errors_are_clear():
    masked = KGErrorExtension.client_error(GraphQLError("boom at /secret/path", original_error=RuntimeError("/secret")))
    assert masked.message == "Unexpected error." and masked.extensions == {"code": "internal_error"}
    clear = KGErrorExtension.client_error(GraphQLError("x", original_error=QueryError("first must be small")))
    assert clear.message == "first must be small" and clear.extensions == {"code": "bad_query"}


def test_graphql_syntax_errors_are_reported(runner):
    r = runner.run("{ sources(covering: ")
    assert r["data"] is None and codes(r) == ["graphql_invalid"]


# ---------------------------------------------------------------- generations


def test_a_request_sees_one_generation_while_a_build_switches(tmp_path):
    store = build_api_store(tmp_path / ".kg")
    backend = GraphBackend(store)
    try:
        before = backend.snapshot()
        from kg.store import write_store

        with write_store(store) as w:  # a new generation without note b.md
            w.remove_note("b.md")
            w.commit()
        import time

        time.sleep(0.25)  # EmbeddedStore looks for a new generation at most every 0.2 s
        after = backend.snapshot()
        assert before.generation != after.generation
        q = "SELECT (COUNT(*) AS ?n) WHERE { ?n a kg:Note }"
        assert before.select(q)[0]["n"] == 2 and after.select(q)[0]["n"] == 1
        assert any(e.name == "北京" for e in before.catalogue.entities.values()) and before.catalogue is not after.catalogue
    finally:
        backend.close()


# ---------------------------------------------------------------- kg query


def test_parse_var():
    assert parse_var("n=5") == ("n", 5) and parse_var("n=PLE") == ("n", "PLE")
    with pytest.raises(QueryError):
        parse_var("novalue")


def test_kg_query_command_on_the_hand_made_graph(api_store, tmp_path):  # noqa: F811
    from typer.testing import CliRunner

    from kg.cli import app

    f = tmp_path / "q.graphql"
    f.write_text("query($n: String!) { entity(name: $n) { name } }", encoding="utf-8")
    res = CliRunner().invoke(app, ["query", f"@{f}", "--var", "n=Tencent", "--store", str(api_store)])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["data"]["entity"]["name"] == "腾讯"
    res = CliRunner().invoke(app, ["query", "{ nope }", "--store", str(api_store)])
    assert res.exit_code == 2


def test_kg_query_answers_the_ple_question_on_the_sample(sample_store):
    from typer.testing import CliRunner

    from kg.cli import app

    res = CliRunner().invoke(app, ["query", '{ sources(covering: "PLE") { source { url title } score direct } }',
                                   "--store", str(sample_store)])
    assert res.exit_code == 0, res.output
    sources = json.loads(res.stdout)["data"]["sources"]
    assert sources and all(s["source"]["url"].startswith("http") for s in sources)
    assert sources == sorted(sources, key=lambda s: -s["score"])


def test_run_query_on_the_sample(sample_store):
    r = run_query(sample_store, '{ stats { notes entities } entities(first: 3) { totalCount } }')
    assert ok(r)["stats"]["notes"] == 1 and r["data"]["entities"]["totalCount"] > 0


def test_path_reads_the_link_cache_of_the_generation_and_answers_as_the_graph_does(sample_store, tmp_path):
    """``path`` projects the link input: read from the link cache a build leaves in its generation (fast),
    else from the graph through SPARQL; both give the same input and the same answers."""
    import shutil

    import pyoxigraph as ox

    from kg import links
    from kg.store import EmbeddedStore, select_rows

    store = tmp_path / ".kg"
    shutil.copytree(sample_store, store)
    gen = store / (store / "CURRENT").read_text(encoding="utf-8").strip()
    links.wait_for_cache(gen / links.CACHE_FILE)
    from_graph = links.load_link_input(lambda q, b=None: select_rows(ox.Store.read_only(str(gen)), q, b))
    assert links.cached_link_input(gen) == from_graph and from_graph.mentions
    backend = GraphBackend(EmbeddedStore(store))
    try:  # the catalogue of a generation knows its folder, where the cache is
        assert Path(backend.snapshot().catalogue.generation_dir).resolve() == gen.resolve()
    finally:
        backend.close()

    question = '{{ path(from: "PLE", to: {to}) {{ kind from {{ name }} to {{ name }} evidence note {{ path }} }} }}'
    names = [r["to"]["name"] for r in ok(QueryRunner(EmbeddedStore(store)).run(
        '{ related(name: "PLE", first: 2) { to { name } } }'))["related"]]
    assert names
    with_cache = [QueryRunner(EmbeddedStore(store)).run(question.format(to=json.dumps(n))) for n in names]
    for f in gen.glob("links-cache*"):
        f.unlink()
    assert links.cached_link_input(gen) is None
    without = [QueryRunner(EmbeddedStore(store)).run(question.format(to=json.dumps(n))) for n in names]
    assert with_cache == without and all(ok(r)["path"] for r in with_cache)
