"""GraphQL in-process: what ``kg query`` runs (the same schema, limits and errors as the server)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from kg.api.backend import GraphBackend
from kg.api.loaders import Context
from kg.api.schema import KGSchema, build_schema
from kg.errors import QueryError
from kg.store import EmbeddedStore

__all__ = ["QueryRunner", "run_query", "result_dict", "parse_var"]


def result_dict(result: Any) -> dict[str, Any]:
    """A strawberry ExecutionResult as the JSON body a GraphQL server sends."""
    out: dict[str, Any] = {"data": result.data}
    if result.errors:
        out["errors"] = [e.formatted for e in result.errors]
    return out


class QueryRunner:
    """A schema and a backend kept open between queries (benchmarks, tests, embedding)."""

    def __init__(self, store: EmbeddedStore | GraphBackend | str, *, production: bool = False,
                 time_limit: float = 10.0, schema: KGSchema | None = None):
        self.backend = store if isinstance(store, GraphBackend) else GraphBackend(store)
        self.schema = schema or build_schema(production=production, time_limit=time_limit)

    async def execute(self, query: str, variables: Mapping[str, Any] | None = None,
                      operation_name: str | None = None) -> dict[str, Any]:
        snap = await self.backend.asnapshot()
        result = await self.schema.execute(query, variable_values=dict(variables or {}),
                                           context_value=Context(snap), operation_name=operation_name)
        return result_dict(result)

    def run(self, query: str, variables: Mapping[str, Any] | None = None,
            operation_name: str | None = None) -> dict[str, Any]:
        return asyncio.run(self.execute(query, variables, operation_name))

    def close(self) -> None:
        self.backend.close()


def run_query(store: EmbeddedStore | GraphBackend | str, query: str,
              variables: Mapping[str, Any] | None = None, *, operation_name: str | None = None) -> dict[str, Any]:
    """Run a GraphQL query against a built store; the response as a dict (``data``, ``errors``)."""
    runner = QueryRunner(store)
    try:
        return runner.run(query, variables, operation_name)
    finally:
        runner.close()


def parse_var(text: str) -> tuple[str, Any]:
    """``name=value`` from the command line; the value is JSON when it parses as JSON, else a string.

    >>> parse_var("first=5"), parse_var("name=PLE"), parse_var('name="5"')
    (('first', 5), ('name', 'PLE'), ('name', '5'))
    """
    import json

    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise QueryError(f"--var takes name=value (got {text!r})")
    try:
        parsed = json.loads(value)
    except ValueError:
        parsed = value
    return name.strip(), parsed
