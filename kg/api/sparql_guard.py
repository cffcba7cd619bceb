"""The guard on a SPARQL query a user sends: the limits (time, result size, memory, the quick limit), the
errors a query ends in, and :func:`execute`, which runs a read-only query on a store and serialises its
result, no larger than the limit (run in a worker process, :mod:`kg.api.sparql_worker`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kg.errors import QueryError

__all__ = ["DEFAULT_FAST_LIMIT", "DEFAULT_MAX_RESULT", "DEFAULT_TIMEOUT", "DEFAULT_WORKER_MEMORY_MB",
           "NotAcceptableError", "OutOfMemoryError", "ResultTooLargeError", "SparqlResult", "execute"]

DEFAULT_TIMEOUT = 10.0
DEFAULT_MAX_RESULT = 64 * 2**20
#: the address space a SPARQL worker may map (the interpreter and Oxigraph take ~300 MiB of it idle)
DEFAULT_WORKER_MEMORY_MB = 1024
#: the CPU seconds a query may use on one of the ready workers before it counts as slow
DEFAULT_FAST_LIMIT = 0.5


class ResultTooLargeError(QueryError):
    code = "result_too_large"


@dataclass(frozen=True)
class SparqlResult:
    body: bytes
    media_type: str
    kind: str  # "solutions", "boolean" or "graph"


def execute(store: Any, sparql: str, result_fmt: str | None, rdf_fmt: str | None,
            max_bytes: int = DEFAULT_MAX_RESULT) -> SparqlResult:
    """Run a read-only query on an EmbeddedStore; serialise in the format chosen for its kind.

    ``result_fmt`` (json, xml, csv, tsv) serves SELECT/ASK and ``rdf_fmt`` (ttl,
    nt, jsonld, xml) CONSTRUCT/DESCRIBE; ``None`` means the client accepts no
    format for that kind (HTTP 406).
    """
    import pyoxigraph as ox

    from kg.store import PREFIXES, RDF_FORMATS, RESULT_FORMATS, check_read_only_query

    check_read_only_query(sparql)
    try:
        result = store.oxigraph.query(sparql, use_default_graph_as_union=True, prefixes=PREFIXES)
    except SyntaxError as err:
        raise QueryError(f"the SPARQL query does not parse: {err}") from None
    except (RuntimeError, ValueError, OSError) as err:
        raise QueryError(f"the SPARQL query failed: {err}") from None
    if isinstance(result, ox.QueryTriples):
        if rdf_fmt is None:
            raise NotAcceptableError("a CONSTRUCT/DESCRIBE answers in RDF: accept text/turtle, "
                                     "application/n-triples or application/ld+json")
        fmt, media, _ = RDF_FORMATS[rdf_fmt]
        kind = "graph"
    else:
        if result_fmt is None:
            raise NotAcceptableError("a SELECT/ASK answers in SPARQL results: accept application/sparql-results+json, "
                                     "application/sparql-results+xml, text/csv or text/tab-separated-values")
        fmt, media = RESULT_FORMATS[result_fmt]
        kind = "boolean" if isinstance(result, ox.QueryBoolean) else "solutions"
    try:
        body = _serialize_capped(result, fmt, max_bytes)
    except (RuntimeError, ValueError, OSError) as err:
        raise QueryError(f"the SPARQL query failed: {err}") from None
    return SparqlResult(body, media, kind)


class _Capped:
    def __init__(self, limit: int):
        self.parts: list[bytes] = []
        self.size = 0
        self.limit = limit

    def write(self, b: bytes) -> int:
        self.size += len(b)
        if self.size > self.limit:
            raise ResultTooLargeError(f"the result is larger than {self.limit // 2**20} MiB; add a LIMIT or "
                                      "download a dump (/dump.nt) instead")
        self.parts.append(bytes(b))
        return len(b)

    def flush(self) -> None:
        pass


def _serialize_capped(result: Any, fmt: Any, limit: int) -> bytes:
    out = _Capped(limit)
    try:
        result.serialize(out, format=fmt)
    except ResultTooLargeError:
        raise
    except Exception as err:
        # pyoxigraph wraps errors raised by the writer
        if isinstance(err.__cause__, ResultTooLargeError) or out.size > out.limit:
            raise ResultTooLargeError(f"the result is larger than {limit // 2**20} MiB; add a LIMIT or "
                                      "download a dump (/dump.nt) instead") from None
        raise
    return b"".join(out.parts)


class NotAcceptableError(QueryError):
    code = "not_acceptable"


class OutOfMemoryError(QueryError):
    code = "out_of_memory"

