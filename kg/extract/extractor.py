"""The ``Extractor``: the spaCy pipeline built by ``load_extractor``, run on notes, turned into kg.model records.

``load_extractor`` imports spaCy and the component modules (which register their components
as they are imported) and builds the pipeline in ``COMPONENTS`` order; ``Extractor`` joins a
note's blocks, runs the components, splits the findings back per block and builds the
:mod:`kg.model` records (names, types by vote and curation, aliases, propagation of names to
their other occurrences, dates with years carried over); ``extract_many`` may fork worker
processes (through :func:`kg.parallel.map_forked`), which send back packed tuples; a long note's
findings are kept as :class:`kg.extract.rows.Rows`.  No spaCy object leaves this module.
"""

from __future__ import annotations

import heapq
import os
import re
import unicodedata
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import fields
from operator import attrgetter
from typing import Any

from kg.errors import ExtractionError, ModelError
from kg.extract.assembly import (
    MENTIONS_PER_ENTITY, PIECE, Found, collapse_mentions, company_short_forms, evidence_window, short_forms, text_pieces,
    trim_to_known,
)
from kg.extract.document import PlainDoc
from kg.extract.limits import NoteLimits, NoteWatch
from kg.extract.resources import shared_resources
from kg.extract.blocksplit import BlockSplit, split_by_block
from kg.extract.rows import Rows, span_at
from kg.model import ENTITY_TYPES, EXTRACTOR_VERSION, Curation, DateMention, Entity, Extraction, Mention, Note  # noqa: F401
from kg.parallel import can_fork_workers, map_forked


#: names of the project's components, in pipeline order
COMPONENTS = (
    "kg_sentences",
    "kg_dates",
    "kg_titles",
    "kg_english_titles",
    "kg_acronyms",
    "kg_model_names",
    "kg_conferences",
    "kg_gazetteer",
    "kg_suffix_names",
    "kg_org_context",
    "kg_person_names",
    "kg_latin_names",
    "kg_english_ner",
    "kg_lexicon",
    "kg_named_events",
)
#: the trained tagger and the resolver run after the rule components (and after ``kg_model_ner``)
FINAL_COMPONENTS = ("kg_tagger", "kg_resolve")

# kg.model.EXTRACTOR_VERSION is bumped whenever the extraction output changes, so that stores rebuild


def entity_key(type_: str, name: str) -> str:
    """The key of an entity: its type and canonical name."""
    return f"{type_}/{name}"


def _clean_name(name: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", name).split()) if name.isascii() else name.strip()


class Extractor:
    """Finds entities, mentions and dates in notes.  Build it with :func:`load_extractor`."""

    def __init__(self, nlp, curation: Curation, model: str | None, limits: NoteLimits | None = None):
        self._nlp = nlp
        self.model = model
        self.limits = limits or NoteLimits()
        self._watch: NoteWatch | None = None  # the note being extracted
        self.curation = curation
        self._aliases = dict(curation.aliases)
        self._merges = dict(curation.merges)
        self._types = dict(curation.types)
        self._not = set(curation.not_entities)

    @property
    def pipe_names(self) -> tuple[str, ...]:
        return tuple(self._nlp.pipe_names)

    def extract(self, note: Note) -> Extraction:
        """Entities, mentions and dates of one note."""
        return next(self.extract_many([note]))

    def extract_many(self, notes: Iterable[Note], n_process: int = 1) -> Iterator[Extraction]:
        """Extract notes in order; ``n_process`` > 1 uses that many worker processes (same results).

        A note's blocks are read as one text joined by line breaks (a break ends
        every name and sentence), and the findings split back per block.  The
        text is segmented once (jieba, as spaCy's ``zh`` tokenizer does) and the
        components run in pipeline order on it.  Workers are forked from this
        process (the loaded pipeline is shared, not rebuilt) and send back plain
        :class:`Extraction` records, in input order.
        """
        if n_process > 1:
            notes = list(notes)
            if len(notes) >= 2 * n_process and can_fork_workers():
                yield from self._extract_parallel(notes, n_process)
                return
        for note in notes:
            yield self._extract_one(note)

    def _extract_one(self, note: Note) -> Extraction:
        """One note's findings, or, when its extraction fails or passes a limit, none and the problem."""
        self._watch = NoteWatch(note.path, self.limits)
        try:
            text = "\n".join(b.text for b in note.blocks)
            blocks = split_by_block(note, self._findings(text, note.text))
            del text  # (as long as the note)
            return self._build(note, blocks)
        except ExtractionError as err:
            problem = err.message
        except MemoryError:
            problem = ("extraction ran out of memory; the note keeps its text and sources but no entities: split it, "
                       "or lower --note-memory-mb so that kg stops it sooner")
        except Exception as exc:  # noqa: BLE001  a fault of kg's on a strange note: the other notes go on
            problem = (f"extraction failed ({type(exc).__name__}: {exc}); the note keeps its text and sources but "
                       "no entities; please report this with the note")
        finally:
            self._watch = None
        return Extraction(note=note.path, entities=(), mentions=(), problem=problem)

    def _findings(self, text: str, note_text: str | None = None) -> dict[str, list]:
        """What the pipeline finds in ``text`` (of the note whose whole text, code included, is
        ``note_text``); a long text is read piece by piece (``text_pieces``), so that what the
        components hold while they work follows the piece, not the note."""
        if len(text) <= PIECE:
            doc = PlainDoc(text, note_text)
            for _name, proc in self._components():
                doc = proc(doc)
            return doc.user_data
        # a mention and a sentence per few characters: kept as Rows, not tuples
        found: dict[str, Any] = {"kg_mentions": Rows(), "kg_dates": [], "kg_acronyms": [], "kg_sentences": Rows()}
        for a, b in text_pieces(text):
            if self._watch is not None:
                self._watch.check()
            part = self._findings(text[a:b], note_text)
            for key in ("kg_mentions", "kg_sentences"):
                rows = found[key]
                for s, e, *rest in part.get(key, ()):
                    rows.append(s + a, e + a, tuple(rest))
            found["kg_dates"] += [(s + a, e + a, *rest) for s, e, *rest in part.get("kg_dates", ())]
            found["kg_acronyms"] += [tuple(x + a for x in item) for item in part.get("kg_acronyms", ())]
        return found

    def rule_findings(self, text: str, note_text: str | None = None) -> dict[str, Any]:
        """What the rule components find in ``text`` (the candidates and tokens the tagger reads)."""
        doc = PlainDoc(text, note_text)
        for name, proc in self._components():
            if name in FINAL_COMPONENTS:
                break
            doc = proc(doc)
        return doc.user_data

    def _components(self) -> list:
        procs = self.__dict__.get("_procs")
        if procs is None:
            procs = self.__dict__["_procs"] = list(self._nlp.pipeline)
        return procs

    def _extract_parallel(self, notes: list[Note], n_process: int) -> Iterator[Extraction]:
        chunksize = max(1, min(8, len(notes) // (n_process * 8)))
        # the workers are forked (kg.parallel.map_forked): they inherit the pipeline, loaded once, here, and
        # the notes, which need not be pickled to them (they get indices); they send back plain tuples
        # (_pack), which pickle several times faster than the slotted dataclasses
        for packed in map_forked(lambda i: _pack(self._extract_one(notes[i])), len(notes), n_process, chunksize):
            yield _unpack(packed)

    # -- turning block findings into model records

    def _canonical(self, name: str) -> str:
        if name not in self._merges and name not in self._aliases:
            return name  # (the loop below returns it unchanged)
        seen = set()
        while name not in seen:
            seen.add(name)
            if name in self._merges:
                name = self._merges[name]
            elif name in self._aliases:
                name = self._aliases[name]
            else:
                break
        return name

    def _build(self, note: Note, blocks: BlockSplit) -> Extraction:
        found: list[Found] = []  # one per mention (or per sentence of a name the note repeats), note offsets
        abbr_long: dict[str, str] = {}
        # a name found more than MENTIONS_PER_ENTITY times keeps one mention per distinct sentence from the
        # start (with a count), so that a note repeating it costs what the note's length says
        repeated = Counter(block.text[s:e] for block, data in zip(note.blocks, blocks) for s, e, *_ in data["mentions"])
        many = {name: name for name, n in repeated.items() if n > MENTIONS_PER_ENTITY}  # (each name made once)
        del repeated
        groups: dict[tuple[str, str, str], Found] = {}
        grouped = bytearray(len(note.text) + 1) if many else None  # where the grouped occurrences stand
        for block, data in zip(note.blocks, blocks):
            if self._watch is not None:
                self._watch.check()
            sentences = data["sentences"]
            for ls, le, as_, ae in data["acronyms"]:
                abbr_long.setdefault(block.text[as_:ae], _clean_name(block.text[ls:le]))
            for s, e, type_, method, prio in data["mentions"]:
                sent = evidence_window(span_at(sentences, s, len(block.text)), s, e)
                a, b = block.start + sent[0], block.start + sent[1]
                name = many.get(block.text[s:e]) if many else None
                if name is not None:
                    key = (name, type_, note.text[a:b])
                    if key in groups:
                        groups[key].count += 1
                        grouped[block.start + s : block.start + e] = b"\x01" * (e - s)  # type: ignore[index]
                        continue
                f = Found(block.start + s, block.start + e, type_, method, prio, block, a, b)
                if name is not None:
                    groups[key] = f
                found.append(f)
        del groups, many  # (a key and its sentence's text per mention of a repeated name)
        found = trim_to_known(note.text, found)
        res = shared_resources()
        companies = company_short_forms({note.text[f.start : f.end] for f in found if f.type == "Organization"},
                                        res.stopwords | res.places)
        found = self._propagate(note, blocks, found, grouped, companies)
        # type per name: curation first, then the strongest evidence, then the most frequent
        votes: dict[str, Counter] = defaultdict(Counter)
        for f in found:
            votes[note.text[f.start : f.end]][f.type] += f.prio * f.count
        spelling: dict[str, Counter] = defaultdict(Counter)
        for f in found:
            text = _clean_name(note.text[f.start : f.end])
            if text.isascii():
                spelling[text.casefold()][text] += 1
        preferred = {k: sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[0][0] for k, c in spelling.items()}
        winner = {text: c.most_common(1)[0][0] for text, c in votes.items()}  # the type each name's votes elect
        short_for = short_forms({_clean_name(t) for t, w in winner.items() if w == "Person"})
        mentions: list[Mention] = []
        entities: dict[str, Entity] = {}
        aliases: dict[str, set[str]] = defaultdict(set)
        strings: dict[str, str] = {}  # a name's text and key made once, not once a mention (a long note repeats them)
        for f in found:
            text = note.text[f.start : f.end]
            text = strings.setdefault(text, text)
            surface = _clean_name(text)
            if not surface or surface in self._not:
                continue
            name = preferred.get(surface.casefold(), surface) if surface.isascii() else surface
            if f.method == "acronym" and surface in abbr_long:
                name = abbr_long[surface]
            elif surface in abbr_long and surface.isascii():
                name = abbr_long[surface]
            if winner[text] == "Person" and name in short_for:
                name = short_for[name]  # 乔布斯 beside 史蒂夫·乔布斯 in the same note: one person
            elif winner[text] == "Organization" and name in companies:
                name = companies[name]  # 苹果 beside 苹果公司: one company
            name = self._canonical(name)
            if name in self._not:
                continue
            type_ = self._types.get(name) or self._types.get(surface) or winner[text]
            if type_ not in ENTITY_TYPES:
                continue
            key = entity_key(type_, name)
            key = strings.setdefault(key, key)
            if name != surface:
                aliases[key].add(surface)
            b: Any = f.block
            mentions.append(Mention(
                note=note.path, start=f.start, end=f.end, text=text, type=type_, key=key,
                section=b.section, snippet=b.snippet, reference=b.reference,
                sentence_start=f.sent_start, sentence_end=f.sent_end, method=f.method,
                confidence=round(min(1.0, f.prio / 100), 2), count=f.count,
            ))
            if key not in entities:  # (the first mention's entity stands; no other is built)
                entities[key] = Entity(key=key, type=type_, name=name)
        for abbr, long in abbr_long.items():
            canon = self._canonical(long)
            for key in list(entities):
                if entities[key].name == canon:
                    aliases[key].add(abbr)
        for alias, canon in (*self._aliases.items(), *self._merges.items()):
            for key, ent in entities.items():
                if ent.name == canon and alias != canon:
                    aliases[key].add(alias)
        ents = tuple(
            Entity(key=k, type=e.type, name=e.name, aliases=tuple(sorted(aliases[k] - {e.name})))
            for k, e in sorted(entities.items())
        )
        del found, votes, spelling
        mentions = collapse_mentions(note.text, mentions)
        mentions.sort(key=lambda m: (m.start, m.end, m.key))
        dates = self._dates(note, blocks, mentions)
        return Extraction(note=note.path, entities=ents, mentions=tuple(mentions), dates=dates)

    def _propagate(self, note: Note, blocks: BlockSplit, found: list[Found],
                   grouped: bytearray | None = None, short: dict[str, str] | None = None) -> list[Found]:
        """Every other occurrence of a name found in the note is a mention too (``grouped`` marks the
        occurrences that a found mention stands for beside its own span), and so is every occurrence of a
        short form (``short``: short form → the name found) that no found mention covers."""
        res = shared_resources()
        names: dict[str, Found] = {}
        for f in found:
            text = note.text[f.start : f.end]
            if len(text) >= 2 and f.method not in ("title_brackets", "title_quotes", "english_title"):
                if text not in names or names[text].prio < f.prio:
                    names[text] = f
        for form, full in (short or {}).items():
            if form not in names and full in names:
                names[form] = names[full].but(prio=names[full].prio - 5)
        if not names:
            return found
        # the characters the mentions cover: an occurrence (never empty) overlaps a mention iff it covers one
        covered = bytearray(grouped) if grouped is not None else bytearray(len(note.text) + 1)
        for f in found:
            covered[f.start : f.end] = b"\x01" * (f.end - f.start)
        extra = []
        for k, ms, me, name in _occurrences(names, [b.text for b in note.blocks]):
            block, data = note.blocks[k], blocks[k]
            s, e = block.start + ms, block.start + me
            if covered.find(1, s, e) >= 0:
                continue
            if name.isascii():
                if (ms > 0 and block.text[ms - 1].isalnum()) or (me < len(block.text) and block.text[me].isalnum()):
                    continue
            elif len(name) == 2 and res.freq.get(block.text[ms : me + 1], 0) > 30:
                continue
            src = names[name]
            sent = evidence_window(span_at(data["sentences"], ms, len(block.text)), ms, me)
            extra.append(Found(s, e, src.type, src.method, src.prio - 5, block, block.start + sent[0],
                               block.start + sent[1]))
            covered[s:e] = b"\x01" * (e - s)
        return found + extra

    def _dates(self, note: Note, blocks: BlockSplit, mentions: list[Mention]) -> tuple[DateMention, ...]:
        out = []
        year, snippet = None, object()  # the year of the closest preceding date with one, in this snippet
        events_at = [(m.start, m.key) for m in mentions if m.type == "Event"]
        for block, data in zip(note.blocks, blocks):
            if block.snippet != snippet:
                year, snippet = None, block.snippet
            for s, e, value in data["dates"]:
                if value and value[:4].isdigit():
                    year = value[:4]
                elif value and value.startswith("--") and year:
                    value = year + value[1:]  # 1970年1月…，6月8日 → 1970-06-08
                sent = span_at(data["sentences"], s, len(block.text))
                a, b = block.start + sent[0], block.start + sent[1]
                events = tuple(sorted({key for start, key in events_at if a <= start < b}))
                out.append(DateMention(note=note.path, start=block.start + s, end=block.start + e,
                                       text=note.text[block.start + s : block.start + e], value=value,
                                       section=block.section, snippet=block.snippet, events=events))
        return tuple(out)


_ENTITY_FIELDS = attrgetter(*(f.name for f in fields(Entity)))
_MENTION_FIELDS = attrgetter(*(f.name for f in fields(Mention)))
_DATE_FIELDS = attrgetter(*(f.name for f in fields(DateMention)))


def _pack(x: Extraction) -> tuple:
    """An extraction as plain tuples (each record's fields in declaration order), for pickling."""
    return (x.note, [_ENTITY_FIELDS(e) for e in x.entities], [_MENTION_FIELDS(m) for m in x.mentions],
            [_DATE_FIELDS(d) for d in x.dates], x.problem)


def _unpack(packed: tuple) -> Extraction:
    """The extraction :func:`_pack` made the tuples of."""
    note, entities, mentions, dates, problem = packed
    return Extraction(note=note, entities=tuple([Entity(*e) for e in entities]),
                      mentions=tuple([Mention(*m) for m in mentions]), dates=tuple([DateMention(*d) for d in dates]),
                      problem=problem)


def _occurrences(names: Iterable[str], texts: list[str]) -> Iterator[tuple[int, int, int, str]]:
    """``(text index, start, end, name)`` of the names in each text, left to right, the longest at a
    position, none overlapping: what the alternation of the names longest first finds with
    ``finditer`` in each text, in order.

    Without compiling that regex per note: every occurrence of every name (``str.find``) in the
    texts joined by line breaks, merged in order as they are found (a name a note repeats a million
    times is never a list of a million places), then the same left-to-right choice.  A name holding a
    line break could run across two texts there, so then the regex is used."""
    names = sorted(names, key=lambda x: (-len(x), x))
    if any("\n" in name for name in names):
        pattern = re.compile("|".join(map(re.escape, names)))
        for k, t in enumerate(texts):
            for m in pattern.finditer(t):
                yield (k, m.start(), m.end(), m.group(0))
        return
    joined = "\n".join(texts)
    starts, offset = [], 0
    for t in texts:
        starts.append(offset)
        offset += len(t) + 1
    end = 0
    for j, minus in heapq.merge(*(_places(joined, name) for name in names if name)):
        if j >= end:
            end = j - minus
            k = bisect_right(starts, j) - 1
            yield (k, j - starts[k], end - starts[k], joined[j:end])


def _places(text: str, name: str) -> Iterator[tuple[int, int]]:
    """``(start, -length)`` of every occurrence of ``name`` in ``text`` (overlapping ones too), in order."""
    j = text.find(name)
    while j >= 0:
        yield (j, -len(name))
        j = text.find(name, j + 1)


def load_extractor(model: str | None = None, curation: Curation | None = None,
                   tagger_dir: str | os.PathLike[str] | None = None, *, tagger: bool = True,
                   limits: NoteLimits | None = None) -> Extractor:
    """Build the pipeline once; ``model`` names an installed trained spaCy pipeline whose NER is added;
    ``tagger_dir`` holds the trained tagger to use (default: the one that ships with kg); ``tagger=False``
    leaves the tagger out (what training runs: the rule components, whose candidates are its features);
    ``limits`` says what one note may cost (:class:`kg.extract.limits.NoteLimits`)."""
    import spacy
    from spacy.language import Language

    # importing a component module registers its components (@Language.component), once per process
    from kg.extract import dates, english_ner, latin_names, lexicon, organisations, persons, places, resolve, suffix_names, titles  # noqa: F401
    from kg.extract import tagger as _tagger_module  # noqa: F401
    from kg.extract.lexicon import ModelNer

    shared_resources()
    nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})
    for name in COMPONENTS:
        nlp.add_pipe(name)
    if model:
        try:
            other = spacy.load(model, exclude=["parser", "lemmatizer", "textcat", "attribute_ruler", "tagger"])
        except (OSError, ImportError, ValueError) as exc:
            raise ModelError(
                f"spaCy pipeline {model!r} is not installed or cannot be loaded ({exc}); "
                "install it as a package first, or run without --model"
            ) from None
        if "ner" not in other.pipe_names:
            raise ModelError(f"spaCy pipeline {model!r} has no 'ner' component; choose a pipeline with NER")
        factory = f"kg_model_ner_{re.sub(r'[^A-Za-z0-9_]', '_', model)}"
        if factory not in Language.factories:
            Language.factory(factory, func=lambda nlp_, name, _m=model, _o=other: ModelNer(_m, _o))
        nlp.add_pipe(factory, name="kg_model_ner")
    if tagger:
        nlp.add_pipe("kg_tagger", config={"model_dir": str(tagger_dir) if tagger_dir else None})
    nlp.add_pipe("kg_resolve")
    return Extractor(nlp, curation or Curation(), model, limits)
