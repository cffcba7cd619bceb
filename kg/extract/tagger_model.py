"""The trained tagger's files: where the shipped model lives, reading and checking one, its digest.  No spaCy.

A model is a folder with ``tagger.crfsuite`` (CRFsuite's weights) and ``tagger.json`` (the feature
version it reads, its training parameters, the notes it learnt from, a digest of the weights).  The
one kg ships is ``kg/extract/model/``; ``kg train`` rewrites it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from kg.errors import ModelError
from kg.extract.features import FEATURES_VERSION

__all__ = ["TaggerModel", "default_model_dir", "tagger_digest"]


def default_model_dir() -> Path:
    """The folder of the model that ships with kg."""
    return Path(str(resources.files("kg.extract").joinpath("model")))


@dataclass
class TaggerModel:
    """A trained model: the CRFsuite file and what ``tagger.json`` says of it."""

    path: Path
    info: dict

    @classmethod
    def load(cls, folder: Path | None = None) -> "TaggerModel":
        folder = Path(folder) if folder else default_model_dir()
        crf, meta = folder / "tagger.crfsuite", folder / "tagger.json"
        if not crf.is_file() or not meta.is_file():
            raise ModelError(f"no trained tagger in {folder} (tagger.crfsuite and tagger.json); "
                             "train one with `kg train`")
        try:
            info = json.loads(meta.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelError(f"{meta}: cannot be read ({exc}); train the tagger again with `kg train`") from None
        if info.get("features_version") != FEATURES_VERSION:
            raise ModelError(
                f"{folder}: the tagger was trained on features version {info.get('features_version')!r}, "
                f"this kg makes version {FEATURES_VERSION!r}; train it again with `kg train`")
        return cls(crf, info)

    def open(self):
        import pycrfsuite

        tagger = pycrfsuite.Tagger()
        try:
            tagger.open(str(self.path))
        except (OSError, ValueError) as exc:
            raise ModelError(f"{self.path}: not a CRFsuite model ({exc}); train the tagger again with `kg train`") from None
        return tagger


def tagger_digest(folder: str | Path | None = None) -> str:
    """The digest ``tagger.json`` records for the model in ``folder`` (default: the shipped one), or
    ``"none"``: what a store's settings fingerprint holds, so that a retrained tagger rebuilds stores."""
    meta = (Path(folder) if folder else default_model_dir()) / "tagger.json"
    try:
        return str(json.loads(meta.read_text(encoding="utf-8")).get("digest", "none"))
    except (OSError, ValueError):
        return "none"
