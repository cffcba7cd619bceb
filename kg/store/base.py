"""What every store shares: the protocols, the formats, term conversion, the one SELECT helper and the
read-only query guard.

* :class:`GraphStore` (read), :class:`StoreSnapshot` (one generation, fixed) and :class:`GraphWriter`
  (a build writing a new generation) are what the rest of kg may ask of a store, embedded
  (:mod:`kg.store.embedded`) or in a SPARQL server (:mod:`kg.store.remote`).  A writer's ``local`` says
  whether it writes a folder on this machine (:class:`LocalGraphWriter`: a pyoxigraph store, bulk loads,
  files beside the generation) or a server.
* :data:`RDF_FORMATS`, :data:`RESULT_FORMATS`: serialisations by short name.
* :func:`to_oxigraph` / :func:`from_oxigraph`: rdflib terms and plain values to pyoxigraph terms and back.
* :func:`select_rows` (and :func:`select_tuples` for large reads, as text for the largest): a SELECT on a
  pyoxigraph store, with parameters bound (``bindings=``, never pasted into query text), rows of plain values.
* :func:`rdf_format`, :func:`graph_format`, :func:`check_result_format`: the format a name asks for.
* :func:`writing`: the block of a ``write_*`` context (abort unless committed, then release).
* :func:`check_read_only_query`: refuses updates, SERVICE and FROM before a user's query runs.

This module imports no other module of :mod:`kg.store`.
"""

from __future__ import annotations

import csv
import io
import re
from contextlib import contextmanager
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ContextManager, Protocol, TypeVar

import pyoxigraph as ox
from rdflib import BNode, Literal, URIRef
from rdflib.term import Node

from kg.errors import QueryError, QueryRefusedError, StoreError
from kg.vocab import KG_NS

__all__ = [
    "DEFAULT_STORE",
    "RDF_FORMATS",
    "RESULT_FORMATS",
    "QUAD_FORMATS",
    "PREFIXES",
    "GraphStore",
    "StoreSnapshot",
    "GraphWriter",
    "LocalGraphWriter",
    "to_oxigraph",
    "from_oxigraph",
    "substitutions",
    "run_query",
    "solution_rows",
    "select_rows",
    "select_tuples",
    "read_note_hashes",
    "rdf_format",
    "graph_format",
    "check_result_format",
    "writing",
    "check_read_only_query",
]

DEFAULT_STORE = ".kg"

#: RDF serialisations by short name: (pyoxigraph format, media type, file extension)
RDF_FORMATS: dict[str, tuple[ox.RdfFormat, str, str]] = {
    "ttl": (ox.RdfFormat.TURTLE, "text/turtle", "ttl"),
    "turtle": (ox.RdfFormat.TURTLE, "text/turtle", "ttl"),
    "nt": (ox.RdfFormat.N_TRIPLES, "application/n-triples", "nt"),
    "nq": (ox.RdfFormat.N_QUADS, "application/n-quads", "nq"),
    "trig": (ox.RdfFormat.TRIG, "application/trig", "trig"),
    "jsonld": (ox.RdfFormat.JSON_LD, "application/ld+json", "jsonld"),
    "xml": (ox.RdfFormat.RDF_XML, "application/rdf+xml", "rdf"),
}
#: SPARQL SELECT/ASK result serialisations by short name
RESULT_FORMATS: dict[str, tuple[ox.QueryResultsFormat, str]] = {
    "json": (ox.QueryResultsFormat.JSON, "application/sparql-results+json"),
    "xml": (ox.QueryResultsFormat.XML, "application/sparql-results+xml"),
    "csv": (ox.QueryResultsFormat.CSV, "text/csv"),
    "tsv": (ox.QueryResultsFormat.TSV, "text/tab-separated-values"),
}
#: the RDF formats that carry named graphs
QUAD_FORMATS = {"nq", "trig"}

#: prefixes every query may use without declaring them
PREFIXES = {
    "kg": KG_NS,
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "schema": "https://schema.org/",
    "prov": "http://www.w3.org/ns/prov#",
    "oa": "http://www.w3.org/ns/oa#",
}

Rows = list[dict[str, Any]]


# ---------------------------------------------------------------- protocols


class StoreSnapshot(Protocol):
    """One generation of a store, fixed when it was taken: a build that goes live later changes nothing it
    reads.  ``folder`` is the generation's folder (an embedded store; files such as the link cache and
    the text index lie there), None for a SPARQL server."""

    generation: str
    folder: Path | None

    def select(self, sparql: str, bindings: Mapping[str, Any] | None = None) -> Rows: ...

    def select_tuples(self, sparql: str) -> Iterator[tuple[Any, ...]]: ...


class GraphStore(Protocol):
    """What the rest of kg needs of a store, embedded or remote."""

    location: str

    def refresh(self, force: bool = False) -> bool: ...

    def select(self, sparql: str, bindings: Mapping[str, Any] | None = None) -> Rows: ...

    def ask(self, sparql: str, bindings: Mapping[str, Any] | None = None) -> bool: ...

    def query_bytes(self, sparql: str, fmt: str = "json", bindings: Mapping[str, Any] | None = None) -> tuple[bytes, str]: ...

    def dump(self, fmt: str, graph: str | None = None) -> bytes: ...

    def note_hashes(self) -> dict[str, str]: ...

    def meta(self) -> dict[str, str]: ...

    def generation(self) -> str: ...

    def open_name(self) -> str | None: ...

    def snapshot(self) -> StoreSnapshot: ...


class GraphWriter(Protocol):
    """A build writing a new generation of a store; nothing is live before :meth:`commit`.

    ``local`` says what else the writer can do: True for a generation written in a folder on this machine
    (it is then a :class:`LocalGraphWriter`), False for a SPARQL server.
    """

    local: bool
    target: Any  # ``target.name``: the generation (or build id) this writer makes
    live: Path | None  # the generation that was live when the build started (a folder store only)
    empty: bool  # the generation started empty rather than from a copy of the live one
    committed: bool

    def note_hashes(self) -> dict[str, str]: ...

    def select(self, sparql: str, bindings: Mapping[str, Any] | None = None) -> Rows: ...

    def replace_graph(self, graph: str, triples: Iterable[tuple[Node, Node, Node]]) -> None: ...

    def replace_note(self, path: str, triples: Iterable[tuple[Node, Node, Node]]) -> None: ...

    def remove_graph(self, graph: str) -> None: ...

    def remove_note(self, path: str) -> None: ...

    def copy_graph_from_live(self, graph: str) -> None: ...

    def flush(self) -> None: ...

    def commit(self, optimize: bool = False) -> None: ...

    def abort(self) -> None: ...

    def release(self) -> None: ...


class LocalGraphWriter(GraphWriter, Protocol):
    """A writer of a generation in a folder here (``local`` is True): its pyoxigraph store can be read and
    bulk-loaded directly, and files can be kept beside it (``target`` is the folder)."""

    root: Path
    target: Path

    @property
    def oxigraph(self) -> ox.Store: ...

    def load(self, quads: list[ox.Quad] | bytes) -> None: ...

    def sync(self) -> None: ...

    def quiet(self) -> ContextManager[Any]: ...


# ---------------------------------------------------------------- term conversion

_XSD = "http://www.w3.org/2001/XMLSchema#"
XSD_STRING = URIRef(_XSD + "string")


def to_oxigraph(term: Node | Any) -> ox.NamedNode | ox.Literal | ox.BlankNode:
    """An rdflib term (or a plain Python value) as a pyoxigraph term."""
    if isinstance(term, URIRef):
        return ox.NamedNode(str(term))
    if isinstance(term, Literal):
        if term.language:
            return ox.Literal(str(term), language=term.language)
        if term.datatype is not None and str(term.datatype) != _XSD + "string":
            return ox.Literal(str(term), datatype=ox.NamedNode(str(term.datatype)))
        return ox.Literal(str(term))
    if isinstance(term, BNode):
        return ox.BlankNode(str(term))
    if isinstance(term, (ox.NamedNode, ox.Literal, ox.BlankNode)):
        return term
    if isinstance(term, bool):
        return ox.Literal("true" if term else "false", datatype=ox.NamedNode(_XSD + "boolean"))
    if isinstance(term, int):
        return ox.Literal(str(term), datatype=ox.NamedNode(_XSD + "integer"))
    if isinstance(term, float):
        return ox.Literal(repr(term), datatype=ox.NamedNode(_XSD + "double"))
    if isinstance(term, str):
        return ox.Literal(term)
    raise TypeError(f"cannot bind a {type(term).__name__} in SPARQL")


_NUMERIC = {_XSD + t for t in ("integer", "int", "long", "short", "nonNegativeInteger", "positiveInteger")}
_FLOAT = {_XSD + t for t in ("double", "float", "decimal")}


def from_oxigraph(term: Any) -> Any:
    """A pyoxigraph term as a plain Python value: IRIs and strings as ``str``, numbers and booleans as such."""
    if term is None:
        return None
    if isinstance(term, ox.Literal):
        dt = term.datatype.value
        v = term.value
        try:
            if dt in _NUMERIC:
                return int(v)
            if dt in _FLOAT:
                return float(v)
            if dt == _XSD + "boolean":
                return v in ("true", "1")
        except ValueError:
            return v
        return v
    if isinstance(term, (ox.NamedNode, ox.BlankNode)):
        return term.value
    return str(term)


# ---------------------------------------------------------------- the SELECT helper


def substitutions(bindings: Mapping[str, Any] | None) -> dict[ox.Variable, Any] | None:
    """``bindings`` (variable name → rdflib term or plain value) as pyoxigraph substitutions; None for none."""
    subs = {ox.Variable(k): to_oxigraph(v) for k, v in (bindings or {}).items()}
    return subs or None


def run_query(store: ox.Store, sparql: str, bindings: Mapping[str, Any] | None = None) -> Any:
    """Run a query on a pyoxigraph store over the union of its graphs, with kg's prefixes and ``bindings``
    substituted (bound variables must appear in the SELECT projection: Oxigraph substitutes projected
    variables only).  pyoxigraph's own result, and its own errors."""
    subs = substitutions(bindings)
    return store.query(sparql, use_default_graph_as_union=True, prefixes=PREFIXES, substitutions=subs)


def solution_rows(result: Any) -> Rows:
    """A query's result as rows of plain values: SELECT solutions as dicts by variable (in the order of
    the projection); an ASK's answer as ``[{"result": bool}]``."""
    if isinstance(result, (bool, ox.QueryBoolean)):
        return [{"result": bool(result)}]
    if not isinstance(result, ox.QuerySolutions):
        raise QueryError("select() takes a SELECT query; use construct() for CONSTRUCT/DESCRIBE")
    names = [v.value for v in result.variables]
    return [{n: from_oxigraph(sol[n]) for n in names} for sol in result]


def select_rows(store: ox.Store, sparql: str, bindings: Mapping[str, Any] | None = None) -> Rows:
    """A SELECT on a pyoxigraph store: rows as dicts of plain Python values (see :func:`run_query`)."""
    return solution_rows(run_query(store, sparql, bindings))


def select_tuples(store: ox.Store, sparql: str, bindings: Mapping[str, Any] | None = None, *,
                  text: bool = False) -> Iterator[Sequence[Any]]:
    """A SELECT's rows in the order of the projection, read one at a time (for large reads): tuples of plain
    values; with ``text``, lists of strings ("" for unbound, numbers as written), read through Oxigraph's
    CSV writer, several times faster than as terms (the link pass reads the whole store so)."""
    result = run_query(store, sparql, bindings)
    if text:
        rows = csv.reader(io.StringIO(result.serialize(format=ox.QueryResultsFormat.CSV).decode("utf-8"), newline=""))
        next(rows, None)  # the header
        yield from rows
        return
    names = [v.value for v in result.variables]
    for sol in result:
        yield tuple(from_oxigraph(sol[n]) for n in names)


def read_note_hashes(select: Callable[..., Rows]) -> dict[str, str]:
    """Note path → the SHA-256 of its text, as the store holds them (``select``: a store's select)."""
    rows = select("SELECT ?path ?sha WHERE { ?n a kg:Note ; kg:path ?path ; kg:sha256 ?sha }")
    return {r["path"]: r["sha"] for r in rows}


def rdf_format(fmt: str) -> ox.RdfFormat:
    """The pyoxigraph format of an RDF format's short name; :class:`StoreError` for a name it does not know."""
    if fmt not in RDF_FORMATS:
        raise StoreError(f"unknown RDF format {fmt!r}; use one of {', '.join(sorted(RDF_FORMATS))}")
    return RDF_FORMATS[fmt][0]


def graph_format(fmt: str) -> tuple[ox.RdfFormat, str, str]:
    """The RDF format (as in :data:`RDF_FORMATS`) a CONSTRUCT or DESCRIBE answers in when ``fmt`` is asked
    for: ``fmt``'s own for a triple format, Turtle for a quad format or another name."""
    return RDF_FORMATS["ttl"] if fmt in QUAD_FORMATS or fmt not in RDF_FORMATS else RDF_FORMATS[fmt]


def check_result_format(fmt: str) -> None:
    """:class:`QueryError` unless ``fmt`` names a SPARQL results format (:data:`RESULT_FORMATS`)."""
    if fmt not in RESULT_FORMATS:
        raise QueryError(f"unknown result format {fmt!r}; use one of {', '.join(RESULT_FORMATS)}")


W = TypeVar("W", bound=GraphWriter)


@contextmanager
def writing(writer: W, unfinished: Callable[[], bool] | None = None) -> Iterator[W]:
    """The block of a store's ``write_*`` context: ``writer`` is aborted when the block raises, and when it
    ends without committing (if ``unfinished()``, when given, says there is something to throw away); then
    released."""
    try:
        yield writer
    except BaseException:
        writer.abort()
        raise
    finally:
        if not writer.committed and (unfinished is None or unfinished()):
            writer.abort()
        writer.release()


# ---------------------------------------------------------------- read-only checks

# A SERVICE keyword as the grammar has it: not part of a name, then an IRI, a variable or a prefixed name
# (comments and SILENT between).  Looked for in the text as well as in the parse, so that a query another
# parser would read differently from rdflib's is refused rather than run.
_GAP = r"(?:\s|#[^\n]*(?:\n|$))+"
_SERVICE_TEXT_RE = re.compile(
    r"(?<![\w:\-\\])SERVICE" + _GAP + r"(?:SILENT" + _GAP + r")?(?:<|[?$]|[^\W\d][\w.\-]*:|:)", re.IGNORECASE)
_UPDATE_WORDS = ("INSERT", "DELETE", "LOAD", "CLEAR", "CREATE", "DROP", "COPY", "MOVE", "ADD", "WITH")


def check_read_only_query(sparql: str) -> None:
    """Raise :class:`QueryRefusedError` for updates, SERVICE calls and FROM graphs; :class:`QueryError` for
    a query that does not parse.

    The decision is taken on the query's algebra as rdflib's SPARQL parser builds it, not on its words.

    >>> check_read_only_query("SELECT * WHERE { ?s ?p ?o }")
    >>> check_read_only_query("DELETE WHERE { ?s ?p ?o }")
    Traceback (most recent call last):
    ...
    kg.errors.QueryRefusedError: SPARQL updates (DELETE) are refused: the graph is read-only; rebuild it with 'kg build'
    """
    from pyparsing import ParseException
    from rdflib.plugins.sparql.algebra import translateQuery
    from rdflib.plugins.sparql.parser import expandUnicodeEscapes, parseQuery, parseUpdate

    try:
        parsed = parseQuery(sparql)
    except ParseException as err:
        try:
            update = parseUpdate(sparql)
        except (ParseException, ValueError, TypeError):
            raise QueryError(f"the SPARQL query does not parse (kg reads every query with rdflib's parser before it "
                             f"runs): {err.msg} (line {err.lineno}, column {err.col})") from None
        verbs = [r.name for r in update.get("request", ())]
        verb = next((w for w in _UPDATE_WORDS if verbs and verbs[0].upper().startswith(w)), "an update")
        raise QueryRefusedError(
            f"SPARQL updates ({verb}) are refused: the graph is read-only; rebuild it with 'kg build'") from None
    except (ValueError, TypeError) as err:
        raise QueryError(f"the SPARQL query does not parse: {err}") from None
    if "datasetClause" in parsed[1]:
        raise QueryRefusedError(
            "FROM/FROM NAMED is refused: kg does not load graphs; "
            "query the named graphs of this store with GRAPH instead")
    try:
        query = translateQuery(parsed, initNs=PREFIXES)
    except Exception as err:  # noqa: BLE001 - rdflib raises plain Exception for an unknown prefix
        raise QueryError(f"the SPARQL query does not parse: {err}") from None
    if "ServiceGraphPattern" in _algebra_names(query.algebra):
        raise QueryRefusedError("SERVICE is refused: kg does not call other SPARQL endpoints")
    if _SERVICE_TEXT_RE.search(expandUnicodeEscapes(sparql)):
        raise QueryRefusedError(
            "SERVICE is refused: the query's text holds 'SERVICE' before an IRI or a variable; kg does not call "
            "other SPARQL endpoints (reword a string or comment that says it)")


def _algebra_names(node: Any) -> set[str]:
    from rdflib.plugins.sparql.parserutils import CompValue

    names: set[str] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, CompValue):
            names.add(n.name)
            stack.extend(n.values())
        elif isinstance(n, (list, tuple)):
            stack.extend(n)
    return names
