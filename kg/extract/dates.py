"""Components ``kg_sentences`` (sentence spans) and ``kg_dates`` (dates, normalised to ISO 8601 where possible).

Both only record spans in ``doc.user_data``: the sentences the mentions and dates are placed in,
and the dates with their values (``finders.normalise_date``).
"""

from __future__ import annotations

import re

from spacy.language import Language

from kg.extract.chars import finditer_from, run_starts
from kg.extract.document import doc_text
from kg.extract.finders import DATE_RE, find_sentences, normalise_date


@Language.component("kg_sentences")
def kg_sentences(doc):
    doc.user_data["kg_sentences"] = find_sentences(doc_text(doc))
    return doc


#: where a date can start: a run of digits (each Arabic alternative is preceded by no digit), or
#: four Chinese digits before 年 (at any of its positions: no lookbehind)
_DIGIT_RUN = re.compile(r"\d+")
_ZH_YEAR_START = re.compile(r"[〇零一二三四五六七八九](?=[〇零一二三四五六七八九]{3}年)")


def _date_starts(text: str) -> list[int]:
    return sorted(run_starts(_DIGIT_RUN, text) + run_starts(_ZH_YEAR_START, text))


@Language.component("kg_dates")
def kg_dates(doc):
    text = doc_text(doc)
    starts = _date_starts(text)
    doc.user_data["kg_dates"] = [(m.start(), m.end(), normalise_date(m)) for m in finditer_from(DATE_RE, text, starts)]
    return doc
