"""HTML pages of the server: the front page (``/``), the search box's answer (``/search``), GraphiQL (on
``/graphql``) and the SPARQL editor (YASGUI, on ``/sparql``), both offering kg's saved queries
(``kg/queries/``) as examples.  Pages load only the server's own ``/assets/`` (kg.web.assets) and say so in
their Content-Security-Policy.  With ``--production`` the two IDEs are off; the front page stays.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from kg.export.formats import RDF, VIEW, listed
from kg.export.html import script_json
from kg.model import ENTITY_TYPES
from kg.web.assets import asset_endpoint, asset_url

__all__ = ["SavedQuery", "saved_queries", "sparql_with_prefixes", "graphiql_page", "sparql_editor_page",
           "prefers_html", "web_routes", "viewer_url", "PAGE_CSP"]

QUERIES_DIR = Path(__file__).resolve().parents[1] / "queries"

#: what a page may load: the server's own files, nothing else (the IDEs' fonts and icons are inline data:)
PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")

DUMP_FORMATS = tuple(f.name for f in listed(RDF))
EXPORT_FORMATS = tuple(f.name for f in listed(VIEW))


@dataclass(frozen=True)
class SavedQuery:
    """A query file of ``kg/queries/``: its name (the file's stem), what it asks (its first comment line),
    its text, and the variables its ``# variables:`` line gives (JSON text), if any."""

    name: str
    title: str
    text: str
    variables: str | None = None


@lru_cache(maxsize=4)
def saved_queries(suffix: str) -> tuple[SavedQuery, ...]:
    """The saved queries ending in ``suffix`` (``.rq`` or ``.graphql``), by name."""
    out = []
    for path in sorted(QUERIES_DIR.glob(f"*{suffix}")):
        text = path.read_text(encoding="utf-8")
        comments = [line[1:].strip() for line in text.splitlines() if line.startswith("#")]
        title = comments[0] if comments else path.stem
        variables = next((c.split(":", 1)[1].strip() for c in comments if c.startswith("variables:")), None)
        out.append(SavedQuery(path.stem, title, text, variables))
    return tuple(out)


def sparql_with_prefixes(text: str) -> str:
    """The query with a PREFIX line for each of kg's prefixes it uses and does not declare (kg's endpoints
    know them; an editor that checks the syntax does not)."""
    from kg.store import PREFIXES

    declared = {m.group(1) for m in re.finditer(r"(?im)^\s*PREFIX\s+([\w-]*):", text)}
    body = re.sub(r"(?m)#.*$|\"[^\"\n]*\"|<[^>\s]*>", "", text)  # comments, strings and IRIs say no prefix
    used = [p for p in PREFIXES if p not in declared and re.search(rf"(?<![\w:]){re.escape(p)}:", body)]
    lines = text.splitlines(keepends=True)
    head = 0
    while head < len(lines) and lines[head].startswith("#"):  # the query's own comment stays on top
        head += 1
    return "".join(lines[:head]) + "".join(f"PREFIX {p}: <{PREFIXES[p]}>\n" for p in used) + "".join(lines[head:])


def prefers_html(request: Any) -> bool:
    """True when the request's Accept header ranks text/html first (a browser navigating to the URL)."""
    from kg.api.negotiation import parse_accept

    ranked = parse_accept(request.headers.get("accept"))
    return bool(ranked) and ranked[0][0] in ("text/html", "application/xhtml+xml") and ranked[0][1] > 0


def _nav(active: str, production: bool) -> str:
    items = [("/", "kg"), *([] if production else [("/graphql", "GraphQL"), ("/sparql", "SPARQL")]),
             ("/viz", "Viewer")]
    links = " ".join(f'<a href="{href}"{" aria-current=page" if href == active else ""}>{html.escape(label)}</a>'
                     for href, label in items)
    return f'<nav class="kg-nav">{links}</nav>'


def _page(title: str, body: str, *, head: str = "", scripts: tuple[str, ...] = (), cls: str = "") -> str:
    tags = "".join(f'<script src="{src}"></script>' for src in scripts)
    return (f'<!DOCTYPE html><html lang="zh"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{html.escape(title)}</title><link rel="icon" href="data:,"><link rel="stylesheet" href="/assets/kg.css">{head}</head>'
            f'<body class="{cls}">{body}{tags}</body></html>')


def _html_response(page: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(page, status_code=status,
                        headers={"Content-Security-Policy": PAGE_CSP, "X-Content-Type-Options": "nosniff",
                                 "Cache-Control": "no-cache"})


# ---------------------------------------------------------------- the IDEs

DEFAULT_GRAPHQL = """# Which sources cover PLE?  Run with the ▶ button (Ctrl-Enter); the tabs hold kg's saved queries.
{
  sources(covering: "PLE") {
    source { url title }
    score
    direct
    justification
    evidence { text sentence note { path } }
  }
}
"""


def graphiql_page(query: str | None = None, variables: str | None = None) -> HTMLResponse:
    """GraphiQL over ``/graphql``: the given query (run at once) or the default one, the saved queries as tabs."""
    tabs = [{"query": DEFAULT_GRAPHQL}] + [
        {"query": q.text, "variables": q.variables or ""} for q in saved_queries(".graphql")]
    data = {"query": query, "variables": variables, "run": query is not None, "tabs": tabs,
            "defaultQuery": DEFAULT_GRAPHQL}
    body = (_nav("/graphql", False) + '<div id="graphiql" class="ide">Loading GraphiQL…</div>'
            f'<script id="kg-data" type="application/json">{script_json(data)}</script>')
    head = f'<link rel="stylesheet" href="{asset_url("graphiql", ".css")}">'
    scripts = (asset_url("react", ".js"), asset_url("react-dom", ".js"), asset_url("graphiql", ".js"),
               "/assets/graphiql-start.js")
    return _html_response(_page("kg: GraphQL", body, head=head, scripts=scripts, cls="ide-page"))


def sparql_editor_page() -> HTMLResponse:
    """YASGUI over ``/sparql``, with a menu of the saved queries."""
    examples = [{"name": q.name, "title": q.title, "query": sparql_with_prefixes(q.text)}
                for q in saved_queries(".rq")]
    # the question kg was first asked ("which sources cover PLE?") comes first
    examples.sort(key=lambda e: (e["name"] != "sources_covering", e["name"]))
    options = "".join(f'<option value="{i}">{html.escape(e["name"])} — {html.escape(e["title"])}</option>'
                      for i, e in enumerate(examples))
    body = (_nav("/sparql", False)
            + '<div class="ide-bar"><label for="examples">Saved queries</label> '
              f'<select id="examples"><option value="">choose one…</option>{options}</select>'
              ' <span class="hint">read-only</span></div>'
            + '<div id="yasgui" class="ide"></div>'
            f'<script id="kg-data" type="application/json">{script_json({"examples": examples})}</script>')
    head = f'<link rel="stylesheet" href="{asset_url("yasgui", ".css")}">'
    scripts = (asset_url("yasgui", ".js"), "/assets/sparql-start.js")
    return _html_response(_page("kg: SPARQL", body, head=head, scripts=scripts, cls="ide-page"))


# ---------------------------------------------------------------- the front page and search


def viewer_url(iri: str, name: str) -> str:
    """The viewer centred on an entity (by its key, ``Type/name``, where its IRI holds one), panel open."""
    from urllib.parse import unquote

    from kg.vocab import ID_NS

    prefix = f"{ID_NS}entity/"
    centre = unquote(iri[len(prefix):]) if iri.startswith(prefix) else iri
    return f"/viz?{urlencode({'centre': centre, 'radius': 2})}#q={quote(name)}"


def _store_facts(store: Any) -> dict[str, Any]:
    try:
        meta = store.meta()
    except Exception:  # noqa: BLE001 - a store that cannot say when it was built still has a front page
        meta = {}
    return {"built": meta.get("builtAt"), "version": meta.get("version")}


async def front_page(request: Request) -> Response:
    backend = request.app.state.backend
    production = request.app.state.production
    snap = await backend.asnapshot()
    cat = snap.catalogue
    counts = await snap.call(cat.stats, snap.store)
    facts = await snap.call(_store_facts, backend.store)
    by_type = {t: 0 for t in ENTITY_TYPES}
    for rec in cat.entities.values():
        by_type[rec.type] = by_type.get(rec.type, 0) + 1
    c = counts["counts"]
    rows = [("Notes", len(cat.notes), None), *((t, n, f"/viz?type={t}") for t, n in by_type.items()),
            ("Sources", c.get("Source", 0), None), ("Mentions", c.get("Mention", 0), None),
            ("Triples", counts["triples"], None)]
    table = "".join(
        f'<tr><th scope="row">{html.escape(k)}</th><td>{v:,}</td>'
        f'<td>{f"<a href={chr(34)}{href}{chr(34)}>view</a>" if href and v else ""}</td></tr>'
        for k, v, href in rows)
    central = sorted(cat.entities.values(), key=lambda e: (-(e.pagerank or 0.0), -e.mention_count, e.iri))[:12]
    central_html = ", ".join(f'<a href="{html.escape(viewer_url(e.iri, e.name))}">{html.escape(e.name)}</a>'
                             f' <span class="hint">{e.type}</span>' for e in central) or "none yet"
    names = sorted(cat.entities.values(), key=lambda e: (-e.mention_count, e.iri))[:500]
    datalist = "".join(f'<option value="{html.escape(e.name)}">' for e in names)
    ide = "" if production else (
        '<li><a href="/graphql">GraphQL</a> — GraphiQL, with the saved queries as tabs '
        '(<code>POST /graphql</code> for programs)</li>'
        '<li><a href="/sparql">SPARQL</a> — an editor (YASGUI) with the saved queries '
        '(<code>/sparql?query=…</code>, SPARQL 1.1 Protocol, read-only)</li>')
    dumps = " ".join(f'<a href="/dump.{f}">{f}</a>' for f in DUMP_FORMATS)
    exports = " ".join(f'<a href="/export/{f}">{f}</a>' for f in EXPORT_FORMATS)
    store_name = html.escape(str(backend.store.location))
    body = f"""{_nav("/", production)}
<main class="front">
<h1>kg <span class="hint">{store_name}</span></h1>
<form action="/search" method="get" class="search" role="search">
  <input name="q" type="search" list="entity-names" placeholder="An entity's name or alias…" aria-label="Search entities" required>
  <button type="submit">Find</button>
  <datalist id="entity-names">{datalist}</datalist>
</form>
<section><h2>What the store holds</h2>
<table class="facts">{table}</table>
<p class="hint">Generation <code id="generation">{html.escape(snap.generation or "?")}</code>, built
<span id="built">{html.escape(facts["built"] or "at an unknown time")}</span>{
    f" by kg {html.escape(facts['version'])}" if facts.get("version") else ""}.</p>
</section>
<section><h2>Most central</h2><p>{central_html}</p></section>
<section><h2>Ask it</h2><ul>
{ide}
<li><a href="/viz">Viewer</a> — the entity graph; <code>/viz?type=Person</code>, <code>/viz?centre=NAME&amp;radius=2</code>,
  <code>/viz#q=NAME</code> (its help lists every option)</li>
<li>Dumps: {dumps} (<code>?note=PATH</code> for one note)</li>
<li>Graph exports: {exports} (the viewer's filters apply)</li>
<li><a href="/healthz">/healthz</a></li>
</ul></section>
</main>"""
    return _html_response(_page("kg", body))


async def search_endpoint(request: Request) -> Response:
    """``/search?q=NAME``: an entity of that name or alias opens in the viewer; otherwise a list of the
    entities whose name or alias contains it."""
    from kg.api.records import norm

    q = (request.query_params.get("q") or "").strip()
    if not q:
        return RedirectResponse("/", status_code=303)
    snap = await request.app.state.backend.asnapshot()
    cat = snap.catalogue
    exact = cat.lookup(q)
    if exact:
        return RedirectResponse(viewer_url(exact[0].iri, exact[0].name), status_code=303)
    nq = norm(q)
    hits = [e for e in cat.sorted if nq in norm(e.name) or any(nq in norm(a) for a in e.aliases)]
    hits.sort(key=lambda e: (-e.mention_count, -(e.pagerank or 0.0), e.iri))
    items = "".join(f'<li><a href="{html.escape(viewer_url(e.iri, e.name))}">{html.escape(e.name)}</a> '
                    f'<span class="hint">{e.type}{" · " + html.escape(", ".join(e.aliases[:3])) if e.aliases else ""}'
                    f' · {e.mention_count} mention{"s" if e.mention_count != 1 else ""}</span></li>'
                    for e in hits[:50])
    found = (f"<p>{len(hits)} entit{'ies' if len(hits) != 1 else 'y'} named like “{html.escape(q)}”"
             f"{' (the first 50)' if len(hits) > 50 else ''}:</p><ul class='hits'>{items}</ul>" if hits else
             f"<p id='nothing'>Nothing in the store is named like “{html.escape(q)}”. Try part of a name, "
             f"or an alias.</p>")
    body = (f"{_nav('/search', request.app.state.production)}<main class='front'><h1>Search</h1>"
            f"<form action='/search' method='get' class='search'><input name='q' type='search' "
            f"value='{html.escape(q)}' aria-label='Search entities'> <button type='submit'>Find</button></form>"
            f"{found}</main>")
    return _html_response(_page(f"kg: {q}", body), status=200 if hits else 404)


def web_routes() -> list[Route]:
    """``/``, ``/search`` and ``/assets/{name}``; GraphiQL and the SPARQL editor hang off kg.api.app's
    ``/graphql`` and ``/sparql`` routes."""
    return [
        Route("/", front_page, methods=["GET"]),
        Route("/search", search_endpoint, methods=["GET"]),
        Route("/assets/{name}", asset_endpoint, methods=["GET"]),
    ]
