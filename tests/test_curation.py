"""Curation files: reading, merging, errors that name the file and the fix."""

import pytest

from kg.curation import load_curation
from kg.errors import CurationError, KGError
from kg.model import Curation


def write(tmp_path, text, name="kg-curation.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_all_tables(tmp_path):
    path = write(tmp_path, 'not_entities = ["东西"]\n[aliases]\nPLE = "Progressive Layered Extraction"\n'
                 '[merges]\n"小西" = "小西行长"\n[types]\n"三井" = "Organization"\n')
    cur = load_curation([path])
    assert cur == Curation(aliases=(("PLE", "Progressive Layered Extraction"),), merges=(("小西", "小西行长"),),
                           not_entities=("东西",), types=(("三井", "Organization"),))


def test_folder_without_file_is_skipped_and_later_file_wins(tmp_path):
    a = tmp_path / "a"
    b = tmp_path / "b"
    a.mkdir(), b.mkdir()
    write(a, '[types]\nX = "Person"\n')
    write(b, '[types]\nX = "Place"\n')
    assert load_curation([a, b, tmp_path]).types == (("X", "Place"),)


@pytest.mark.parametrize("text, fragment", [
    ("[types]\nX = \"Planet\"\n", "must be one of"),
    ("not_entities = \"x\"\n", "list of non-empty strings"),
    ("[aliases\n", "not valid TOML"),
    ("[colours]\nx = \"y\"\n", "unknown key"),
    ("[aliases]\nx = 3\n", "non-empty string"),
])
def test_bad_files_raise_with_file_and_fix(tmp_path, text, fragment):
    path = write(tmp_path, text)
    with pytest.raises(CurationError) as info:
        load_curation([path])
    assert fragment in str(info.value) and str(path) in str(info.value)
    assert isinstance(info.value, KGError)


def test_missing_file_raises(tmp_path):
    with pytest.raises(CurationError):
        load_curation([tmp_path / "nope.toml"])
