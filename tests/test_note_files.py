"""Strange files in a notes folder (issue 20, items 8-10 and the terminal part of 11): only regular files are
notes, links that leave the folder are not followed unless asked, names that are not UTF-8 are one error
line, a folder that cannot be read keeps its notes' graphs, and nothing raw reaches the terminal."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kg.pipeline import build
from kg.store import EmbeddedStore

NOTE = "# {title}\n\n{title} met Alice Baker in Paris in 1999.\n"


def _write(path: Path, title: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(NOTE.format(title=title), encoding="utf-8")


def _paths(store: Path) -> set[str]:
    return {r["p"] for r in EmbeddedStore(store).select("SELECT ?p WHERE { ?n a kg:Note ; kg:path ?p }")}


def _dump(store: Path) -> str:
    return EmbeddedStore(store).dump("nq").decode("utf-8")


def kg(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kg.cli", *args], capture_output=True, timeout=timeout)


@pytest.fixture()
def notes(tmp_path) -> Path:
    root = tmp_path / "notes"
    _write(root / "a.md", "Alpha")
    _write(root / "sub" / "b.md", "Beta")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("the launch code is swordfish\n", encoding="utf-8")
    return root


def test_links_out_of_the_folder_devices_and_fifos_are_skipped(notes, tmp_path):
    (notes / "innocent.md").symlink_to(Path("..") / "outside" / "secret.txt")
    (notes / "zero.md").symlink_to("/dev/zero")
    os.mkfifo(notes / "fifo.md")
    (notes / "inside.md").symlink_to(Path("sub") / "b.md")  # a link inside the folder is read
    r = kg("build", str(notes), "--store", str(tmp_path / "store"), "--no-extract", timeout=60)
    err = r.stderr.decode()
    assert r.returncode == 0, err  # nothing broke: things were left out on purpose
    assert "skipped innocent.md: a link to a file outside the notes folder" in err
    assert "skipped zero.md" in err and "skipped fifo.md: a FIFO" in err
    assert _paths(tmp_path / "store") == {"a.md", "sub/b.md", "inside.md"}
    assert "swordfish" not in _dump(tmp_path / "store")


def test_links_are_followed_when_asked_but_devices_never(notes, tmp_path):
    (notes / "innocent.md").symlink_to(Path("..") / "outside" / "secret.txt")
    (notes / "zero.md").symlink_to("/dev/zero")
    report = build([notes], tmp_path / "store", extract=False, follow_symlinks=True)
    assert report.ok, report.problems
    assert "innocent.md" in _paths(tmp_path / "store")
    assert any(s.startswith("zero.md: a device") for s in report.skipped), report.skipped


def test_a_folder_link_loop_ends(notes, tmp_path):
    (notes / "sub" / "loop").symlink_to("..")
    report = build([notes], tmp_path / "store", extract=False, follow_symlinks=True)
    assert report.ok and _paths(tmp_path / "store") == {"a.md", "sub/b.md"}


def test_a_file_name_that_is_not_utf8_is_one_error_and_the_rest_is_built(notes, tmp_path):
    bad = os.fsencode(notes) + b"/caf\xe9-\x1b[31mred.md"
    with open(bad, "w", encoding="utf-8") as fh:
        fh.write(NOTE.format(title="Gamma"))
    r = kg("build", str(notes), "--store", str(tmp_path / "store"), "--no-extract", timeout=60)
    err = r.stderr
    assert r.returncode == 1
    lines = [line for line in err.split(b"\n") if b"not valid UTF-8" in line]
    assert len(lines) == 1 and b"caf\\xe9-\\x1b[31mred.md" in lines[0], err
    assert b"\x1b" not in err and b"\xe9" not in err  # escaped, not raw
    assert _paths(tmp_path / "store") == {"a.md", "sub/b.md"}


def test_escape_bytes_in_note_names_never_reach_the_terminal(tmp_path):
    notes = tmp_path / "notes"
    _write(notes / "ok.md", "Okay")
    (notes / "evil\x1b]0;pwned\x07\x1b[2J.md").write_bytes(b"\x00binary")  # an error names the file
    r = kg("build", str(notes), "--store", str(tmp_path / "store"), "--no-extract", timeout=60)
    assert r.returncode == 1 and b"evil\\x1b]0;pwned\\x07\\x1b[2J.md" in r.stderr, r.stderr
    assert b"\x1b" not in r.stderr and b"\x07" not in r.stderr
    (notes / "evil\x1b]0;pwned\x07\x1b[2J.md").write_text("# [bold]x[/bold]\n\ntext\n", encoding="utf-8")
    assert kg("build", str(notes), "--store", str(tmp_path / "store"), "--no-extract").returncode == 0
    stats = kg("stats", "--store", str(tmp_path / "store"))
    assert stats.returncode == 0 and b"\x1b]0" not in stats.stdout and b"\\x1b]0;pwned" in stats.stdout


def _deep_folder(root: Path, depth: int) -> Path:
    """A chain of folders (created relative to each other: their full path may pass the OS limit)."""
    fd = os.open(root, os.O_RDONLY)
    try:
        for _ in range(depth):
            os.mkdir("d" * 200, dir_fd=fd)
            nfd = os.open("d" * 200, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = nfd
        with open(os.open("deep.md", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "w", encoding="utf-8") as fh:
            fh.write(NOTE.format(title="Delta"))
    finally:
        os.close(fd)
    return root


def test_a_folder_past_the_path_limit_keeps_its_notes(tmp_path):
    notes = tmp_path / "n"
    _write(notes / "a.md", "Alpha")
    (notes / "long").mkdir()
    depth = (4080 - len(str(notes / "long")) - len("/deep.md")) // 201  # just under PATH_MAX (4096): readable
    _deep_folder(notes / "long", depth)
    store = tmp_path / "store"
    assert build([notes], store, extract=False).ok
    before = _paths(store)
    deep = {p for p in before if p.endswith("deep.md")}
    assert len(before) == 2 and len(deep) == 1
    moved = tmp_path / ("n" * 250)  # the same notes, under a longer folder: their paths pass PATH_MAX
    os.rename(notes, moved)
    _write(moved / "a.md", "Alpha changed")
    report = build([moved], store, extract=False)
    assert not report.ok and any("cannot read the folder" in p.message for p in report.problems), report.problems
    assert report.changed == ["a.md"] and not report.removed, report
    assert deep <= _paths(store)  # its last good graph stays


def test_an_unreadable_folder_keeps_its_notes(tmp_path):
    notes = tmp_path / "notes"
    _write(notes / "a.md", "Alpha")
    _write(notes / "private" / "p.md", "Pi")
    _write(notes / "private" / "q.md", "Qu")
    store = tmp_path / "store"
    assert build([notes], store, extract=False).ok
    _write(notes / "a.md", "Alpha changed")
    (notes / "private").chmod(0)
    try:
        if os.geteuid() == 0:  # root reads any folder: build without the capabilities that let it
            if shutil.which("setpriv") is None:
                pytest.skip("running as root without setpriv: every folder is readable")
            caps = "-dac_override,-dac_read_search"
            r = subprocess.run(["setpriv", f"--inh-caps={caps}", f"--bounding-set={caps}", sys.executable, "-m",
                                "kg.cli", "build", str(notes), "--store", str(store), "--no-extract"],
                               capture_output=True, text=True, timeout=120)
            assert r.returncode == 1, r.stderr
            assert "private: cannot read the folder (Permission denied)" in r.stderr, r.stderr
        else:
            report = build([notes], store, extract=False)
            assert not report.ok and any(p.path == "private" for p in report.problems)
            assert not report.removed
    finally:
        (notes / "private").chmod(0o755)
    assert _paths(store) == {"a.md", "private/p.md", "private/q.md"}
