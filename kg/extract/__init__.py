"""The extraction pass: typed entities, their mentions and dates, from a note's prose.

This package owns the spaCy pipeline (``zh`` with the jieba segmenter, no
downloaded model) and its components, each registered by name in the module
that defines it and doing one thing; it turns their findings into
:mod:`kg.model` records.  No spaCy object leaves this package.

The entities come from a trained sequence model, ``kg_tagger`` (a CRF over the text's units,
``tagger``, ``features``; trained by ``kg train``, ``training``); the rule components before it
propose candidates that are its features, and structure decides only where it is unambiguous
(``kg_resolve``: titles in 《》, "Long Name (ABBR)", venue + year, English names two general
resources agree on; dates).

Components, in pipeline order (each writes to ``doc.user_data``):

``kg_sentences``       sentence spans (Chinese and Western end punctuation, line breaks)
``kg_dates``           dates, normalised to ISO 8601 where possible
``kg_titles``          titles in 《》 and quoted English titles → Paper
``kg_english_titles``  English title-case lines and segments in reading lists → Paper
``kg_acronyms``        "Long Name (ABBR)" definitions → Paper / Organization, ABBR an alias
``kg_model_names``     model names written with capitals and digits (L2MT, GPT-3) → Paper
``kg_conferences``     venue acronym + year (CVPR 2018) → Event
``kg_gazetteer``       countries, regions, provinces, prefectures, states, cities → Place
``kg_suffix_names``    names ending in organisation, event or place words → Organization / Event / Place
``kg_org_context``     coordinated names before 财阀/集团 (三井和三菱两家财阀), Latin names before 网站/公司 → Organization
``kg_person_names``    surname + given name, transliterated names, role-word context → Person
``kg_latin_names``     Latin-script names: given name + capitalised words → Person, listed places → Place,
                       organisation words (Foundation, University of X) → Organization
``kg_english_ner``     spaCy's general English NER (en_core_web_sm) in English sentences; where it and a
                       general list agree (Seattle, Steve Jobs) the name stands
``kg_lexicon``         jieba's dictionary tags (nr/ns/nt) as a weak signal
``kg_named_events``    a place or person the rules found before an event word (拿破仑战争), a year before an
                       election or games (1996年大选) → Event
``kg_model_ner``       a trained pipeline's NER (only with ``--model``)
``kg_tagger``          the trained CRF: every entity, typed (Person, Event, Paper, Place, Organization, Technology)
``kg_resolve``         structural spans and the tagger's, one per stretch of text

Each is defined and registered (``@Language.component``) in one module: ``dates``
(kg_sentences, kg_dates), ``titles`` (kg_titles, kg_english_titles, kg_acronyms,
kg_model_names, kg_conferences), ``places`` (kg_gazetteer), ``suffix_names``
(kg_suffix_names, kg_named_events), ``organisations`` (kg_org_context), ``persons`` (kg_person_names),
``latin_names`` (kg_latin_names), ``english_ner`` (kg_english_ner), ``lexicon`` (kg_lexicon, and the NER wrapper behind kg_model_ner), ``tagger`` (kg_tagger) and
``resolve`` (kg_resolve).

The other modules hold what the components share and import no spaCy: ``chars`` (character
and tag classes, regex helpers), ``segmenter`` (jieba and its tables), ``resources`` (the
word lists in ``kg/data``), ``document`` (the document the components read, candidates, tokens,
word boundaries), ``finders`` (sentence, date and acronym finders on plain text) and
``extractor`` (``load_extractor``, the ``Extractor`` and its records), ``features`` (units and their
features), ``training`` (gold to labels, training, cross-validation), ``lexicons`` (the name and
place lists generated from packages), ``limits`` (what one note may cost: time, memory) and
``spacy_import`` (spaCy without its command line).  Importing this
package imports no spaCy: ``load_extractor`` imports it, then the component modules, which
register their components as they are imported (a build's worker first calls
``import_spacy_without_cli``).

Entity keys are ``f"{type}/{canonical name}"``; they depend on the note and the
curation only.

Speed (the largest CPU consumer of a build): the text is segmented once, by
``Segmenter`` (jieba's own algorithm and tables, word for word, in fewer Python
steps); jieba's dictionary and POS tables load from one marshal cache; what the
components derive from a text (token starts, token classes, Latin words) is made once
per text and what they derive from a word is remembered per word; lexicons are trie
regexes; patterns whose matches can only start at a few places are tried only there
(``finditer_from``); overlap tests use a covered-characters map.  Every one of these
gives the same results as the plain scan it replaces (see tests/test_nlp_segment.py).
"""

from __future__ import annotations

from kg.extract.document import clear_caches, segment
from kg.extract.extractor import COMPONENTS, Extractor, entity_key, load_extractor
from kg.extract.finders import find_acronyms, find_sentences, normalise_date
from kg.extract.limits import NoteLimits
from kg.extract.spacy_import import import_spacy_without_cli

__all__ = [
    "COMPONENTS",
    "Extractor",
    "load_extractor",
    "entity_key",
    "normalise_date",
    "clear_caches",
    "segment",
    "find_sentences",
    "find_acronyms",
    "import_spacy_without_cli",
    "NoteLimits",
]
