"""Every error kg raises derives from :class:`KGError`.

Library code raises these; only the CLI and the HTTP layer turn them into exit
codes and responses.  A message says what failed, where, and what to do.
"""

from __future__ import annotations

__all__ = [
    "KGError",
    "NoteError",
    "StoreError",
    "StoreLockedError",
    "StoreNotFoundError",
    "StoreDamagedError",
    "QueryError",
    "QueryRefusedError",
    "QueryTimeoutError",
    "NotFoundError",
    "CurationError",
    "ModelError",
    "ExportError",
    "EvalError",
    "ExtractionError",
]


class KGError(Exception):
    """Base of every error raised by kg."""

    #: short machine-readable code, used by the HTTP layer
    code = "kg_error"

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None):
        self.message = message
        self.path = path
        self.line = line
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = f"{self.path}:{self.line}: " if self.line else f"{self.path}: "
        return f"{where}{self.message}"


class NoteError(KGError):
    """A note could not be read or parsed (the file and line are named)."""

    code = "bad_note"


class ExtractionError(KGError):
    """Extracting one note failed or passed a per-note limit (time, memory); the build goes on without it."""

    code = "extraction_failed"


class StoreError(KGError):
    """The graph store could not be opened, read or written."""

    code = "store_error"


class StoreNotFoundError(StoreError):
    code = "no_store"


class StoreLockedError(StoreError):
    code = "store_locked"


class StoreLayoutError(StoreError):
    """A store was written by another kg, in a graph layout this one does not read (see kg.vocab.GRAPH_LAYOUT)."""

    code = "store_layout"


class StoreDamagedError(StoreError):
    """A store's files are not what the build wrote (truncated, overwritten, missing)."""

    code = "store_damaged"


class QueryError(KGError):
    """A query is malformed."""

    code = "bad_query"


class QueryRefusedError(QueryError):
    """A query asks for something kg does not allow (updates, remote loads, ...)."""

    code = "query_refused"


class QueryTimeoutError(QueryError):
    code = "query_timeout"


class NotFoundError(KGError):
    code = "not_found"


class CurationError(KGError):
    """A curation file (aliases, merges, not-an-entity) is malformed."""

    code = "bad_curation"


class ModelError(KGError):
    """A spaCy pipeline named by the user cannot be loaded."""

    code = "bad_model"


class ExportError(KGError):
    code = "export_error"


class EvalError(KGError):
    code = "bad_gold"
