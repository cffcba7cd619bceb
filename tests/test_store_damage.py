"""Damaged stores (issue 20, items 3 and 4): every command says what is broken and how to recover, none
eats the machine's memory, and ``kg build --force`` sets the damaged generation aside and builds anew."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SAMPLES
from kg.pipeline import build
from kg.store import EmbeddedStore

MEMORY_CAP = 4 * 2**30  # what the issue ran under (ulimit -v 4000000): a runaway read dies here, not the machine


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    store = tmp_path_factory.mktemp("damage") / "store"
    assert build([SAMPLES], store, extract=False).ok
    return store


@pytest.fixture()
def store(built, tmp_path) -> Path:
    copy = tmp_path / "store"
    shutil.copytree(built, copy)  # (copy2 keeps the files' times: a copy of a store is not damage)
    return copy


def _gen(store: Path) -> Path:
    return store / (store / "CURRENT").read_text().strip()


def _largest_sst(store: Path) -> Path:
    return max(_gen(store).glob("*.sst"), key=lambda p: p.stat().st_size)


def overwrite_middle(store: Path) -> None:
    """The issue's damage, scaled to a small store: a third of the largest .sst overwritten in place."""
    sst = _largest_sst(store)
    size = sst.stat().st_size
    with open(sst, "r+b") as fh:
        fh.seek(size // 3)
        fh.write(os.urandom(size // 3))


def truncate(path: Path) -> None:
    with open(path, "r+b") as fh:
        fh.truncate(path.stat().st_size // 2)


DAMAGE = {
    "sst overwritten": overwrite_middle,
    "sst truncated": lambda s: truncate(_largest_sst(s)),
    "manifest truncated": lambda s: truncate(next(_gen(s).glob("MANIFEST-*"))),
    "rocksdb CURRENT truncated": lambda s: truncate(_gen(s) / "CURRENT"),
    "kg CURRENT truncated": lambda s: (s / "CURRENT").write_text(""),
}


def kg(*args: str) -> subprocess.CompletedProcess:
    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))

    return subprocess.run([sys.executable, "-m", "kg.cli", *args], capture_output=True, text=True, timeout=300,
                          preexec_fn=cap)


def assert_clear(r: subprocess.CompletedProcess) -> None:
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and "bad_alloc" not in r.stderr, r.stderr
    assert "the store is damaged" in r.stderr and "--force" in r.stderr, r.stderr


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_store_is_reported_clearly(store, damage):
    DAMAGE[damage](store)
    assert_clear(kg("stats", "--store", str(store)))
    from kg.errors import StoreDamagedError

    with pytest.raises(StoreDamagedError):
        EmbeddedStore(store)


@pytest.mark.parametrize("damage", ["sst overwritten", "kg CURRENT truncated"])
def test_every_command_on_a_damaged_store_says_so_and_build_force_recovers(store, damage):
    DAMAGE[damage](store)
    assert_clear(kg("sparql", "SELECT * WHERE { ?s ?p ?o } LIMIT 1", "--store", str(store)))
    assert_clear(kg("export", "--store", str(store), "--format", "nq"))
    assert_clear(kg("build", str(SAMPLES), "--store", str(store), "--no-extract"))
    assert_clear(kg("serve", "--store", str(store), "--port", "1"))
    r = kg("build", str(SAMPLES), "--store", str(store), "--no-extract", "--force")
    assert r.returncode == 0, r.stderr
    assert any(p.name.startswith("damaged-") for p in store.iterdir())
    stats = kg("stats", "--store", str(store), "--json")
    assert stats.returncode == 0 and '"triples"' in stats.stdout, stats.stderr
    from kg.integrity import verify_generation

    verify_generation(_gen(store), full=True)


def test_a_store_without_checksums_still_reports_damage_clearly(store):
    """A store built before checksums were kept: what RocksDB says about a truncated file becomes the error."""
    (_gen(store) / "kg-files.json").unlink(missing_ok=True)
    truncate(_largest_sst(store))
    r = kg("stats", "--store", str(store))
    assert_clear(r)


def test_a_rebuild_keeps_checksums_of_the_files_it_shares_and_a_copy_is_not_damage(store):
    from kg.integrity import verify_generation

    before = _gen(store)
    notes = store.parent / "notes"
    shutil.copytree(SAMPLES, notes)
    (notes / "new.md").write_text("# A new note\n\nIt names Paris.\n", encoding="utf-8")
    assert build([notes], store, extract=False).ok
    after = _gen(store)
    assert after != before
    verify_generation(after, full=True)
    moved = store.parent / "moved"
    shutil.copytree(store, moved, copy_function=shutil.copy)  # times not kept: checksums decide
    verify_generation(_gen(moved))
    assert EmbeddedStore(moved).select("SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }")[0]["n"] > 0
