"""What the trained tagger sees of a text: units, sequences and the features of each unit.

A **unit** is a run of Latin letters and digits (``GPT``, ``3``, ``Hejlsberg``) or any other single
non-space character (a Han character, a punctuation mark); spaces are not units but features
(``sp-``/``sp+``).  A **sequence** is the units of one sentence or line.  A unit's features are strings:
the unit and its neighbours, their shapes, the jieba word the unit lies in (its position in the word,
the word, its dictionary tag and frequency), the general name, place and software lists (``kg.extract.lexicons``
and ``kg/data``), and the candidates the rule components proposed over it (``cB-Person``,
``mI-gazetteer``...).  The rules are thus signals the model learns to weigh, not answers.

Changing what a feature means changes what a trained model reads: bump ``FEATURES_VERSION`` and
retrain (``kg train``).  No spaCy here.
"""

from __future__ import annotations

import re
from collections import defaultdict
from math import log10

from kg.extract.lexicons import latin_name_lists, software_names
from kg.extract.resources import shared_resources

__all__ = ["FEATURES_VERSION", "MAX_SEQUENCE", "UnitFeatures", "units_of", "sequences_of", "unit_features"]

#: the version of the features below; a model records the version it was trained with
FEATURES_VERSION = "3"

_UNIT = re.compile(r"[A-Za-z0-9]+|\S")
_SENTENCE_END = frozenset("。！？!?；;")


def units_of(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of the units of ``text``.

    >>> t = "GPT-3 由OpenAI发布"
    >>> [t[s:e] for s, e in units_of(t)]
    ['GPT', '-', '3', '由', 'OpenAI', '发', '布']
    """
    return [m.span() for m in _UNIT.finditer(text)]


#: the most units a sequence holds: a longer sentence (a line of a table, a text without punctuation) is
#: cut, so that tagging costs what the text's length says
MAX_SEQUENCE = 300


def sequences_of(text: str, units: list[tuple[int, int]]) -> list[range]:
    """The units split into sentences: after end punctuation, a full stop before a space, a line break;
    a sentence of more than ``MAX_SEQUENCE`` units is cut into pieces of at most that many.

    >>> t = "张三到了北京。He met Bob.\\nOK"
    >>> [[t[slice(*units_of(t)[i])] for i in r] for r in sequences_of(t, units_of(t))]
    [['张', '三', '到', '了', '北', '京', '。'], ['He', 'met', 'Bob', '.'], ['OK']]
    """
    out, start = [], 0
    n = len(units)
    for i, (s, e) in enumerate(units):
        ch = text[s]
        # a full stop before a space ends a sentence, unless it follows an initial (John C. Platt)
        end = ch in _SENTENCE_END or (ch == "." and (e == len(text) or text[e].isspace())
                                      and not (i > 0 and units[i - 1][1] - units[i - 1][0] == 1
                                               and text[units[i - 1][0]].isupper()))
        if not end and i + 1 < n and "\n" in text[e : units[i + 1][0]]:
            end = True
        if end or i + 1 - start >= MAX_SEQUENCE:
            out.append(range(start, i + 1))
            start = i + 1
    if start < n:
        out.append(range(start, n))
    return out


#: runs of letters, digits and ``+#._-``: the technical token a Latin unit lies in (c++, node.js, bt.601)
_TECH_RUN = re.compile(r"[A-Za-z0-9+#._\-]+")
_TECH_TRIM = re.compile(r"^[^A-Za-z0-9]+|[^A-Za-z0-9+#]+$")


def _tech_tokens(text: str) -> dict[int, str]:
    """For each character of a technical token longer than one unit, the token (lower case)."""
    out: dict[int, str] = {}
    for m in _TECH_RUN.finditer(text):
        token = m.group()
        if token.isalnum():
            continue  # one unit: nothing to add
        lead = len(token) - len(token.lstrip("+#._-"))
        token = _TECH_TRIM.sub("", token)
        if not token or token.isalnum():
            continue
        start = m.start() + lead
        low = token.lower()
        for p in range(start, start + len(token)):
            out[p] = low
    return out


def _shape(u: str) -> str:
    c = u[0]
    if "\u3400" <= c <= "\u9fff" or "\uf900" <= c <= "\ufaff":
        return "C"
    if u.isdigit():
        return "D"
    if u.isascii() and u.isalpha():
        if u.isupper():
            return "U" if len(u) > 1 else "u"
        if c.isupper():
            return "T" if u[1:].islower() or len(u) == 1 else "M"
        return "l" if u.islower() else "m"
    if u.isascii() and u.isalnum():
        return "X"
    return "P" if not c.isalnum() else "O"


def _marks(candidates: list[tuple]) -> dict[int, set[str]]:
    """Per character, the rule candidates over it: type and method, at the start (B), inside (I)
    or at the end (E) of the candidate."""
    marks: dict[int, set[str]] = defaultdict(set)
    for s, e, type_, method, _prio in candidates:
        marks[s].update((f"cB-{type_}", f"mB-{method}"))
        for p in range(s + 1, e):
            marks[p].update((f"cI-{type_}", f"mI-{method}"))
        marks[e - 1].add(f"cE-{type_}")
    return marks


class UnitFeatures:
    """The features of a text's units, made sentence by sentence (``features(range)``) so that a long
    note never holds the features of all its units at once; what every sentence needs of the text
    (the jieba word of each character, the candidates' marks) is made once."""

    def __init__(self, text: str, units: list[tuple[int, int]], candidates: list[tuple],
                 tokens: list[tuple[int, int, str]]):
        self.text, self.units, self.tokens = text, units, tokens
        self.us = [text[s:e] for s, e in units]
        self.ul = [u.lower() for u in self.us]
        self.sh = [_shape(u) for u in self.us]
        # the jieba word each character lies in
        word_at = [-1] * (len(text) + 1)
        for k, (s, e, _w) in enumerate(tokens):
            word_at[s:e] = [k] * (e - s)
        self.word_at = word_at
        self.marks = _marks(candidates)
        self.tech = _tech_tokens(text)
        self.word_feats: dict[int, list[str]] = {}  # the features a jieba word gives each unit in it

    def features(self, indices: range) -> list[list[str]]:
        """The features of the units ``indices``."""
        res = shared_resources()
        given, family, places_en = latin_name_lists()
        software = software_names()
        freq, tags = res.freq, res.tags
        units, tokens, us, ul, sh = self.units, self.tokens, self.us, self.ul, self.sh
        word_at, marks, tech, word_feats = self.word_at, self.marks, self.tech, self.word_feats
        n = len(units)
        pad = "#"
        out = []
        for i in indices:
            s, e = units[i]
            u, low, shape = us[i], ul[i], sh[i]
            prev1 = ul[i - 1] if i > 0 else pad
            prev2 = ul[i - 2] if i > 1 else pad
            next1 = ul[i + 1] if i + 1 < n else pad
            next2 = ul[i + 2] if i + 2 < n else pad
            f = ["b", "u=" + low, "sh=" + shape, "u-1=" + prev1, "u-2=" + prev2, "u1=" + next1, "u2=" + next2,
                 "u-1u=" + prev1 + "|" + low, "uu1=" + low + "|" + next1,
                 "sh3=" + (sh[i - 1] if i > 0 else pad) + shape + (sh[i + 1] if i + 1 < n else pad)]
            if shape == "C":
                if u in res.surnames_zh:
                    f.append("sur")
                if u in res.translit:
                    f.append("tr")
            else:
                if len(low) > 3:
                    f += ["pre3=" + low[:3], "suf3=" + low[-3:]]
                if shape in "TUM":
                    if u in given:
                        f.append("given")
                    if u in family:
                        f.append("family")
                    if u in places_en:
                        f.append("place_en")
                if low in res.common_acronyms:
                    f.append("acronym")
                if shape == "X":
                    f.append("digits")
                # the whole technical token the unit lies in (c++, node.js, ncrf++, bt.601, sqlite-utils)
                token = tech.get(s)
                if token:
                    f.append("xt=" + token)
                # a programming language or a file format (lua, bash, png, c++, m3u8)
                if (token or low) in software:
                    f.append("soft")
            if i > 0 and units[i - 1][1] < s:
                f.append("sp-")
            if i + 1 < n and units[i + 1][0] > e:
                f.append("sp+")
            k = word_at[s]
            if k >= 0:
                ws, we, w = tokens[k]
                pos = "S" if (ws == s and we == e) else "B" if ws == s else "E" if we == e else "M"
                own = word_feats.get(k)
                if own is None:
                    fr = freq.get(w) or 0
                    own = ["wf=%d" % min(6, int(log10(fr + 1)))]
                    if len(w) <= 8:
                        own.append("w=" + w.lower())
                    if len(w) >= 2:
                        own += ["wl=%d" % min(len(w), 5), "wlast=" + w[-1], "wfirst=" + w[0]]
                    word_feats[k] = own
                f += own
                f.append("wp=" + pos)
                tag = tags.get(w)
                if tag:
                    f.append("wt=" + tag + pos)
                if k > 0:
                    f.append("w-1=" + tokens[k - 1][2].lower()[:8] + ("" if pos in "BS" else "~"))
                if k + 1 < len(tokens):
                    f.append("w1=" + tokens[k + 1][2].lower()[:8] + ("" if pos in "ES" else "~"))
            m = marks.get(s)
            if e - 1 != s and (e - 1) in marks:
                m = (m or set()) | marks[e - 1]
            if m:
                f.extend(sorted(m))
            out.append(f)
        return out


def unit_features(text: str, units: list[tuple[int, int]], candidates: list[tuple],
                  tokens: list[tuple[int, int, str]]) -> list[list[str]]:
    """The features of every unit (see the module docstring); ``tokens`` are the jieba words
    ``(start, end, word)`` of the text, ``candidates`` the rule candidates ``(start, end, type,
    method, priority)``."""
    return UnitFeatures(text, units, candidates, tokens).features(range(len(units)))
