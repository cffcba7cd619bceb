"""Content negotiation for the server: the media types it answers in, by format, and the reading of an
Accept header (:func:`negotiate`)."""

from __future__ import annotations

__all__ = ["RESULT_MEDIA", "GRAPH_MEDIA", "DUMP_MEDIA", "FORMAT_PARAM", "parse_accept", "negotiate"]

RESULT_MEDIA = {
    "application/sparql-results+json": "json",
    "application/json": "json",
    "application/sparql-results+xml": "xml",
    "application/xml": "xml",
    "text/xml": "xml",
    "text/csv": "csv",
    "text/tab-separated-values": "tsv",
}
GRAPH_MEDIA = {
    "text/turtle": "ttl",
    "application/x-turtle": "ttl",
    "application/n-triples": "nt",
    "text/plain": "nt",
    "application/ld+json": "jsonld",
    "application/rdf+xml": "xml",
}
DUMP_MEDIA = {**GRAPH_MEDIA, "application/n-quads": "nq", "application/trig": "trig"}
FORMAT_PARAM = {"json": ("json", None), "xml": ("xml", "xml"), "csv": ("csv", None), "tsv": ("tsv", None),
                "ttl": (None, "ttl"), "turtle": (None, "ttl"), "nt": (None, "nt"), "jsonld": (None, "jsonld")}


def parse_accept(header: str | None) -> list[tuple[str, float, int]]:
    """``(media range, q, position)`` from an Accept header, best first."""
    out = []
    for i, part in enumerate((header or "*/*").split(",")):
        fields = [f.strip() for f in part.split(";")]
        media = fields[0].lower()
        if not media:
            continue
        q = 1.0
        for f in fields[1:]:
            if f.startswith("q="):
                try:
                    q = max(0.0, min(1.0, float(f[2:])))
                except ValueError:
                    q = 0.0
        out.append((media, q, i))
    out.sort(key=lambda t: (-t[1], t[2]))
    return out


def negotiate(header: str | None, offers: dict[str, str]) -> str | None:
    """The format key of the best offer the Accept header allows (offers in preference order), or None."""
    best: tuple[float, int, int] | None = None
    choice = None
    for media, q, pos in parse_accept(header):
        if q <= 0:
            continue
        for rank, (offer, key) in enumerate(offers.items()):
            if media == offer or media == "*/*" or (media.endswith("/*") and offer.startswith(media[:-1])):
                score = (-q, 0 if media == offer else 1, rank)
                if best is None or score < best:
                    best, choice = score, key
    return choice
