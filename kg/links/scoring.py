"""Every constant the link pass scores with, in one table (:data:`SCORING`).

The tunable parameters (how many links to keep, where hubs start) are :data:`kg.links.DEFAULTS`; these are
the weights and the shape of the scores (see the score scale in :mod:`kg.links`).  The table is part of the
link cache's key (:func:`scoring_key`): a build after a change here makes a full pass, with no version to
bump by hand.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Scoring:
    # text features (kg.links.features): the weight of each kind of feature in a bag's vector
    concept: float = 1.5  # a glossary concept
    generic_concept: float = 0.3  # a concept that says what kind of text, not what about
    word: float = 1.0  # another English word
    bigram: float = 0.6  # a Chinese character bigram
    # an entity's context in a note (kg.links.coverage): the weight of each text in its bag
    context_name: float = 1.0  # its name and aliases
    context_sentence: float = 1.0  # a sentence it is mentioned in
    context_heading: float = 0.5  # the heading path of a section it is mentioned in
    profile_features: int = 300  # features kept in the mean of an entity's contexts
    # relatedness (kg.links.relatedness): contexts added to each entity's count before damping
    damping_prior: int = 5
    # how much a mention puts its entity in a context (kg.links.relatedness.contexts_of; the projection)
    in_snippet: float = 1.0
    in_section: float = 0.5
    in_source: float = 1.0
    # direct coverage by the title, in [1.5, 2)
    title_base: float = 1.5
    title_similarity: float = 0.25  # × the similarity of the title to the entity's context
    title_evidence: float = 0.15  # an extracted mention in the title backs it
    title_at_home: float = 0.08  # the source's own note mentions the entity
    title_cap: float = 1.999
    # direct coverage by the context, in [1, 1.5)
    context_base: float = 1.0
    context_closeness: float = 0.3  # × how near the link the nearest mention stands
    context_mentions: float = 0.1  # × (mentions - 1) / context_mentions_full, at most 1
    context_mentions_full: int = 3
    context_cap: float = 1.499
    context_evidence: int = 3  # mentions kept as the evidence
    # inferred coverage, in [min_inferred, 1): similarity × proximity + the bonus of related entities named
    proximity_section: float = 1.0  # the source lies under the same top-level section as the context
    proximity_note: float = 0.9  # in the same note
    proximity_elsewhere: float = 0.8
    via_bonus: float = 0.2  # × the strongest related entity's weight / the strongest of all
    via_kept: int = 3  # related entities the title names, kept as kg:via
    inferred_cap: float = 0.999
    shared_features: int = 5  # features the title and the context share, named in the justification
    # path costs (kg.links.paths): a hop through a snippet or a source title, through a section, and what a
    # hub entity (named in n contexts) and a crowded context (naming d entities) add
    hop: float = 1.0
    hop_section: float = 1.5
    hub_entity: float = 0.8  # × ln(1 + n)
    crowded_context: float = 0.2  # × ln d


SCORING = Scoring()


def scoring_key() -> tuple[tuple[str, float], ...]:
    """The table as the link cache keeps it (a cache made with another table is not used)."""
    return tuple(sorted(asdict(SCORING).items()))
