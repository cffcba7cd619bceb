"""Entities by what a user types: a name, an alias, a word of a name, the start of a word; and, for a name no
entity has, the nearest names.

Entity names and aliases go into an in-memory SQLite FTS5 table (one per served generation), indexed as
:mod:`kg.textindex` indexes text (:func:`kg.terms.fts_text`); candidates are checked with
:func:`kg.terms.find_term`, so a search matches words, never letters inside a word (``PLE`` finds ``PLE``
and ``Progressive Layered Extraction (PLE)``, not ``RIPPLES`` nor ``SIMPLE``).  How well a name fits, best
first (:data:`TIERS`): it is the name, an alias, one of the names the name lists (``MMOE/ESMM/PLE``), a word
of the name (``黑船`` in ``黑船事件``), the start of a word of it (``Trans`` in ``Transformer``).
"""

from __future__ import annotations

import difflib
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from kg.terms import find_term, fts_phrase, fts_text, listed_names, normalise_term

__all__ = ["TIERS", "NameMatch", "NameIndex"]

#: how a name fits what was typed, best first
TIERS = ("name", "alias", "listed", "word", "word prefix")


@dataclass(frozen=True, slots=True)
class NameMatch:
    iri: str
    form: str  # the name or alias that fits
    tier: int  # index in TIERS

    @property
    def how(self) -> str:
        return TIERS[self.tier]

    def says(self, term: str) -> str:
        """How the term was read, in words."""
        if self.tier == 0:
            return "name"
        if self.tier == 1:
            return f"alias {self.form}"
        if self.tier == 2:
            return f"listed in the name {self.form}"
        if self.tier == 3:
            return f"a word of the name {self.form}"
        return f"the start of a word of the name {self.form}"


def _fold(text: str) -> str:
    return normalise_term(text).casefold()


class NameIndex:
    """The names and aliases of the entities of one generation, searchable by words."""

    _CANDIDATES = 2000

    def __init__(self, entries: Iterable[tuple[str, str, Iterable[str]]]):
        """``entries``: (entity IRI, name, aliases)."""
        self._conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        c = self._conn
        c.execute("CREATE TABLE forms(id INTEGER PRIMARY KEY, iri TEXT, form TEXT, alias INTEGER)")
        c.execute("CREATE VIRTUAL TABLE fts USING fts5(form, tokenize='unicode61 remove_diacritics 2')")
        self.names: dict[str, str] = {}
        self._forms: dict[str, str] = {}  # every name and alias -> the entity's name
        self._by_fold: dict[str, list[str]] | None = None
        c.execute("BEGIN")
        for iri, name, aliases in entries:
            self.names[iri] = name
            for form, alias in ((name, 0), *((a, 1) for a in aliases)):
                self._forms.setdefault(form, name)
                cur = c.execute("INSERT INTO forms(iri, form, alias) VALUES (?, ?, ?)", (iri, form, alias))
                c.execute("INSERT INTO fts(rowid, form) VALUES (?, ?)", (cur.lastrowid, fts_text(form)))
        c.execute("COMMIT")

    def _folded(self) -> dict[str, list[str]]:
        """Every name and alias by its folded form (made on first need)."""
        if self._by_fold is None:
            by: dict[str, list[str]] = {}
            for form in self._forms:
                by.setdefault(_fold(form), []).append(form)
            self._by_fold = by
        return self._by_fold

    def _candidates(self, query: str, limit: int) -> list[tuple[str, str, int]]:
        with self._lock:
            return self._conn.execute(
                "SELECT f.iri, f.form, f.alias FROM fts JOIN forms f ON f.id = fts.rowid WHERE fts MATCH ? "
                "ORDER BY bm25(fts), f.id LIMIT ?", (query, limit)).fetchall()

    def search(self, text: str, *, prefix: bool = True) -> list[NameMatch]:
        """The entities whose name or alias fits ``text``, each once with its best fit, best first (then by IRI);
        without ``prefix`` the start of a word is not enough."""
        term = normalise_term(text)
        phrase = fts_phrase(term, prefix=prefix)
        if phrase is None:
            return []
        folded = term.casefold()
        best: dict[str, NameMatch] = {}
        for iri, form, alias in self._candidates(phrase, self._CANDIDATES):
            f = _fold(form)
            if f == folded:
                tier = 1 if alias else 0
            elif find_term(form, term):  # (a name a list names is a word of it too)
                tier = 2 if any(_fold(x) == folded for x in listed_names(form)) else 3
            elif prefix and find_term(form, term, prefix=True):
                tier = 4
            else:
                continue
            if iri not in best or tier < best[iri].tier:
                best[iri] = NameMatch(iri, form, tier)
        return sorted(best.values(), key=lambda m: (m.tier, m.iri))

    def nearest(self, text: str, n: int = 5) -> list[str]:
        """The ``n`` names most like ``text`` (for "no entity named X; nearest names: ..."), most alike first;
        an alias is given with the entity's name: ``Tencent (腾讯)``."""
        term = normalise_term(text)
        folded = term.casefold()
        if not folded:
            return []
        tokens = list(dict.fromkeys((fts_phrase(term) or "").strip('"').split()))
        pool: dict[str, str] = {}
        # names sharing the start of a word with it, else the first two letters of one
        for query in (" OR ".join(f'"{t}"*' for t in tokens), " OR ".join(f'"{t[:2]}"*' for t in tokens)):
            if query and not pool:
                for iri, form, _ in self._candidates(query, 500):
                    pool.setdefault(form, self.names.get(iri, form))
        if not pool:  # nothing shares even that: the closest spellings of all names
            folded_forms = self._folded()
            pool = {form: self._forms[form] for f in difflib.get_close_matches(folded, list(folded_forms), 3 * n, 0.5)
                    for form in folded_forms[f]}
        scored = sorted(((difflib.SequenceMatcher(None, folded, _fold(form)).ratio(), form, name)
                         for form, name in pool.items()), key=lambda t: (-t[0], t[1]))
        out: list[str] = []
        for score, form, name in scored:
            if score < 0.5:
                break
            shown = name if _fold(name) == _fold(form) else f"{form} ({name})"
            if shown not in out:
                out.append(shown)
            if len(out) >= n:
                break
        return out
