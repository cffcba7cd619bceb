"""Component ``kg_lexicon`` (jieba's dictionary tags nr/ns/nt as a weak signal) and the ``--model`` NER wrapper.

``ModelNer`` runs a trained spaCy pipeline's NER on the text and adds its entities as
candidates; ``load_extractor`` registers it as the ``kg_model_ner`` component when a model is named.
"""

from __future__ import annotations

from spacy.language import Language

from kg.extract.chars import starts_with_any
from kg.extract.document import LEXICON_TYPES, T_LEXICON, add_candidate, doc_text, doc_tokens, token_groups
from kg.extract.persons import person_context, plausible_person
from kg.extract.resources import shared_resources

__all__ = ["kg_lexicon", "ModelNer"]


@Language.component("kg_lexicon")
def kg_lexicon(doc):
    res = shared_resources()
    text = doc_text(doc)
    toks = doc_tokens(doc)
    for i in token_groups(doc)[T_LEXICON]:
        s, e, tok = toks[i]
        tag = res.tags[tok]
        type_ = LEXICON_TYPES[tag]
        if type_ == "Person":
            long_surname = starts_with_any(tok, res.surnames_ja, res.ja_lens) or tok[:2] in res.surnames_zh
            if tok[0] not in res.surnames_zh and not long_surname and tag != "nrt":
                continue
            if len(tok) >= 4 and not long_surname and tag != "nrt":
                continue  # four characters after a one-character surname: an idiom (顾名思义, 尚方宝剑)
            if len(tok) == 2 and res.tags.get(tok[0]) == "m" and not person_context(text, s, e, res):
                continue  # a numeral-like first character reads as a quantity (余生, 多拉快跑)
            if not plausible_person(text, s, e, res):
                continue
        if type_ == "Place" and not tok.endswith(res.place_suffixes):
            continue
        if type_ == "Organization" and not tok.endswith(res.org_suffixes) and tok[-1] not in "团局部院会社署厅校":
            continue  # jieba's nt covers everyday words (最新进展, 最大化)
        add_candidate(doc, s, e, type_, f"lexicon_{tag}", 40)
    return doc


_NER_LABELS = {"PERSON": "Person", "PER": "Person", "GPE": "Place", "LOC": "Place", "FAC": "Place",
               "ORG": "Organization", "EVENT": "Event", "WORK_OF_ART": "Paper", "LAW": "Event"}


class ModelNer:
    """Runs a trained pipeline's NER on the text and adds its entities as candidates."""

    def __init__(self, name: str, nlp):
        self.name = name
        self.nlp = nlp

    def __call__(self, doc):
        other = self.nlp(doc_text(doc))
        for ent in other.ents:
            type_ = _NER_LABELS.get(ent.label_)
            if type_:
                add_candidate(doc, ent.start_char, ent.end_char, type_, f"ner:{self.name}", 50)
        return doc
