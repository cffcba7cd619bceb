"""What a GraphQL request may ask: its cost, estimated before it runs, and the limit on it; the limits of
validation (depth, aliases, tokens, query size), of ``first`` and of argument length; the time limit.

A request's cost is the number of fields it would resolve: every field counts once for each time it
is reached, so a list field multiplies what is below it by its ``first`` (the argument's value, from the
query or its variables, else its default), or by :data:`LIST_ESTIMATE` for a list without ``first``.
A page (``entities(first: n)``) passes ``n`` on to its ``edges``.  Nesting ``mentions(first: 500)``
three deep costs 125 million and is refused before a resolver runs; ordinary questions cost tens to a
few thousand.  Introspection (``__schema``, ``__type``) is bounded by the schema and is not counted.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLInterfaceType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    value_from_ast,
)
from graphql.execution.values import get_variable_values
from graphql.execution import ExecutionResult as GraphQLExecutionResult
from strawberry.extensions import SchemaExtension

from kg.errors import QueryError

__all__ = ["MAX_COST", "MAX_FIRST", "LIST_ESTIMATE", "DEFAULT_FIRST", "query_cost", "CostLimiter", "MAX_DEPTH",
           "MAX_ALIASES", "MAX_TOKENS", "MAX_QUERY_CHARS", "MAX_ARG_CHARS", "DEFAULT_TIME_LIMIT", "check_first",
           "check_text"]

#: the most fields one request may resolve
MAX_COST = 10_000
#: the largest ``first`` a list field takes (a larger one is refused by its resolver, with its own message)
MAX_FIRST = 500
#: what a list without ``first`` is taken to hold (evidence, via, path steps, aliases)
LIST_ESTIMATE = 10
#: ``first`` where the argument is left out and the schema gives no default (the resolvers' defaults)
DEFAULT_FIRST = {"mentions": 20, "sources": 20, "related": 10, "entities": 50, "events": 50, "central": 10}
_CEILING = 10**12  # stop counting once a request is this far over


def query_cost(schema: GraphQLSchema, document: Any, variables: Mapping[str, Any] | None = None,
               operation_name: str | None = None) -> int:
    """The estimated number of field resolutions of the operation (see the module's docstring)."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name:
        ops = [o for o in ops if o.name and o.name.value == operation_name]
    if not ops:
        return 0
    op = ops[0]
    values = dict(variables or {})
    coerced = get_variable_values(schema, op.variable_definitions or (), values)
    if isinstance(coerced, dict):
        values = coerced
    root = schema.get_root_type(op.operation)
    if root is None:
        return 0
    return _cost(schema, root, op.selection_set, 1, None, fragments, values)


def _fields(schema: GraphQLSchema, parent: Any, selection_set: SelectionSetNode,
            fragments: Mapping[str, FragmentDefinitionNode]) -> Iterator[tuple[Any, FieldNode]]:
    """``(type the field is looked up on, field node)`` for every field of a selection set, fragments unrolled."""
    for sel in selection_set.selections:
        if isinstance(sel, FieldNode):
            yield parent, sel
        elif isinstance(sel, InlineFragmentNode):
            t = schema.get_type(sel.type_condition.name.value) if sel.type_condition else parent
            yield from _fields(schema, t or parent, sel.selection_set, fragments)
        elif isinstance(sel, FragmentSpreadNode):
            frag = fragments.get(sel.name.value)
            if frag is not None:  # (validation has refused unknown and cyclic fragments)
                t = schema.get_type(frag.type_condition.name.value)
                yield from _fields(schema, t or parent, frag.selection_set, fragments)


def _first(field: FieldNode, field_def: Any, values: Mapping[str, Any]) -> int | None:
    for arg in field.arguments or ():
        if arg.name.value == "first":
            if isinstance(arg.value, VariableNode):
                v = values.get(arg.value.name.value)
            else:
                v = value_from_ast(arg.value, field_def.args["first"].type, values)
            return v if isinstance(v, int) else None
    if field_def is not None and "first" in field_def.args:
        default = field_def.args["first"].default_value
        if isinstance(default, int):
            return default
        return DEFAULT_FIRST.get(field.name.value, LIST_ESTIMATE)
    return None


def _cost(schema: GraphQLSchema, parent: Any, selection_set: SelectionSetNode, times: int, page: int | None,
          fragments: Mapping[str, FragmentDefinitionNode], values: Mapping[str, Any]) -> int:
    total = 0
    for owner, field in _fields(schema, parent, selection_set, fragments):
        name = field.name.value
        if name.startswith("__"):
            continue
        field_def = owner.fields.get(name) if isinstance(owner, (GraphQLObjectType, GraphQLInterfaceType)) else None
        total += times
        if field_def is None or field.selection_set is None:
            continue
        t = field_def.type
        if isinstance(t, GraphQLNonNull):
            t = t.of_type
        first = _first(field, field_def, values)
        child_page = None
        n = times
        if isinstance(t, GraphQLList):
            size = first if first is not None else (page if page is not None else LIST_ESTIMATE)
            size = min(size, MAX_FIRST)
            n = times * max(size, 0)
            t = t.of_type
            while isinstance(t, (GraphQLNonNull, GraphQLList)):
                t = t.of_type
        elif first is not None:
            child_page = min(first, MAX_FIRST)  # a page: its edges hold ``first`` items
        total += _cost(schema, t, field.selection_set, n, child_page, fragments, values)
        if total > _CEILING:
            return total
    return total


class CostLimiter(SchemaExtension):
    """Refuses a request whose :func:`query_cost` is over ``max_cost`` before anything is resolved."""

    max_cost = MAX_COST

    def on_execute(self) -> Iterator[None]:
        ctx = self.execution_context
        doc = ctx.graphql_document
        if doc is not None and ctx.result is None:
            cost = query_cost(ctx.schema._schema, doc, ctx.variables, ctx.operation_name)
            if cost > self.max_cost:
                shown = f"{cost:,}" if cost < _CEILING else f"more than {_CEILING:,}"
                ctx.result = GraphQLExecutionResult(data=None, errors=[GraphQLError(
                    f"the query would resolve {shown} fields; at most {self.max_cost:,} are allowed: ask for "
                    "fewer items ('first') in nested lists, or fewer nested lists",
                    extensions={"code": "query_too_costly"})])
        yield


# ---------------------------------------------------------------- what a request may ask

MAX_DEPTH = 12
MAX_ALIASES = 30
MAX_TOKENS = 3000
MAX_QUERY_CHARS = 20_000
MAX_ARG_CHARS = 500
DEFAULT_TIME_LIMIT = 10.0


def check_first(first: int | None, default: int) -> int:
    if first is None:
        return default
    if first < 0 or first > MAX_FIRST:
        raise QueryError(f"first must be between 0 and {MAX_FIRST} (got {first}); page with 'after' for more")
    return first


def check_text(value: str, what: str, limit: int = MAX_ARG_CHARS) -> str:
    if len(value) > limit:
        raise QueryError(f"{what} is {len(value):,} characters long; at most {limit} are accepted")
    if "\x00" in value:
        raise QueryError(f"{what} contains a NUL character")
    return value
