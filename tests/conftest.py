"""Shared fixtures: the sample notes, the corpus, and stores built from them (once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples"
SAMPLE_NOTE = SAMPLES / "000_3c3c03ef14cd1a5a.md"
CORPUS = REPO.parent / "shared" / "corpus" / "posts"


@pytest.fixture(scope="session")
def sample_store(tmp_path_factory) -> Path:
    """The sample notes built with extraction and links into a store (read-only for tests)."""
    from kg.pipeline import build

    store = tmp_path_factory.mktemp("sample-store") / ".kg"
    report = build([SAMPLES], store, n_process=1)
    assert report.ok, report.problems
    return store


@pytest.fixture(scope="session")
def structure_store(tmp_path_factory) -> Path:
    """The sample notes built without extraction: the note structure only."""
    from kg.pipeline import build

    store = tmp_path_factory.mktemp("structure-store") / ".kg"
    report = build([SAMPLES], store, extract=False)
    assert report.ok, report.problems
    return store


def corpus_or_skip() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"the corpus is not at {CORPUS} (it lives in ../shared beside the repo)")
    return CORPUS
