"""The query layer: GraphQL (strawberry) and the HTTP server (starlette) over a built store.

Imports are lazy so that a SPARQL worker process (``kg.api.sparql_worker``)
does not pay for strawberry and starlette.

* :func:`kg.api.query.run_query` — GraphQL in-process (``kg query``)
* :func:`kg.api.app.create_app` — the ASGI app (``kg serve``)
* :data:`kg.api.schema.schema` — the GraphQL schema (SDL in ``schemas/schema.graphql``), its root; the types in
  :mod:`kg.api.types`, the store behind it in :mod:`kg.api.backend`, the DataLoaders in :mod:`kg.api.loaders`,
  the limits in :mod:`kg.api.limits`
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app", "run_query", "build_schema"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from kg.api.app import create_app

        return create_app
    if name == "run_query":
        from kg.api.query import run_query

        return run_query
    if name == "build_schema":
        from kg.api.schema import build_schema

        return build_schema
    raise AttributeError(name)
