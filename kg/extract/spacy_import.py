"""Importing spaCy without its command line, for a process that only extracts (a build's worker)."""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["import_spacy_without_cli"]


def import_spacy_without_cli() -> None:
    """Import spaCy leaving out its command line, for a process that only extracts (a build's worker).

    ``import spacy`` imports ``spacy.cli`` for one name (``spacy.info``), and with it requests, typer
    and weasel: ~0.2 s of each worker's start.  The CLI package is stood in for during the import by
    one whose ``info`` imports the real one when called; afterwards ``import spacy.cli`` imports the
    real package.  Should spaCy need more of its CLI at import, the import is simply done again whole.
    """
    if "spacy" in sys.modules:
        return
    import types

    def info(*args: Any, **kwargs: Any) -> Any:
        from spacy.cli.info import info as real

        return real(*args, **kwargs)

    package, module = types.ModuleType("spacy.cli"), types.ModuleType("spacy.cli.info")
    package.__path__ = []  # a package, so that `spacy.cli.info` can be looked up in it
    module.info = info  # type: ignore[attr-defined]
    stand_ins = {"spacy.cli": package, "spacy.cli.info": module}
    sys.modules.update(stand_ins)
    try:
        import spacy  # noqa: F401
    except Exception:  # noqa: BLE001  the stand-in did not do: forget the half import, import it whole
        for name in [m for m in sys.modules if m == "spacy" or m.startswith("spacy.")]:
            if sys.modules[name] not in stand_ins.values():
                del sys.modules[name]
    finally:
        for name, stand_in in stand_ins.items():
            if sys.modules.get(name) is stand_in:
                del sys.modules[name]
    import spacy  # noqa: F401,F811  (a no-op unless the stand-in failed)
