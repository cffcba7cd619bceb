"""The extraction pass's own jieba segmentation and its cached jieba tables: the same words and tables as jieba's."""

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from kg import nlp

SEED = Path(__file__).resolve().parents[2] / "shared" / "seed" / "000_3c3c03ef14cd1a5a.txt"
SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "000_3c3c03ef14cd1a5a.txt"


def jieba_words(text: str) -> list[tuple[int, int, str]]:
    import jieba

    out, pos = [], 0
    for w in jieba.cut(text, cut_all=False):
        if not w.isspace():
            out.append((pos, pos + len(w), w))
        pos += len(w)
    return out


def _texts() -> list[str]:
    note = SEED if SEED.is_file() else SAMPLE
    text = note.read_text(encoding="utf-8")
    rnd = random.Random(7)
    alphabet = sorted(set(text)) + list(" \t\r\n\u3000ab.-%#&+_9") + [chr(rnd.randrange(0x4E00, 0x9FD6)) for _ in range(200)]
    out = [text, "", " ", "\r\n", "作为", "GPT-3和BERT在2018年", "1.5%的人", "#&+_", "abc def\u3000中文　空格"]
    for _ in range(400):
        a = rnd.randrange(len(text))
        out.append(text[a : a + rnd.randrange(1, 200)])
        out.append("".join(rnd.choice(alphabet) for _ in range(rnd.randrange(1, 60))))
        out.append("".join(chr(rnd.randrange(0x4E00, 0x9FD6)) for _ in range(rnd.randrange(1, 30))))
    return out


def test_segment_is_jieba_cut_word_for_word():
    for text in _texts():
        assert nlp.segment(text) == jieba_words(text), text


def test_hmm_is_jiebas_finalseg():
    from jieba import finalseg

    seg = nlp._resources().segmenter
    for text in _texts():
        assert seg._hmm_cut(text) == list(finalseg.cut(text)), text


_PROBE = """
import json, sys
from kg import nlp
freq, total, tags = nlp._jieba_tables()
from_cache = "jieba.posseg" not in sys.modules
import jieba, jieba.posseg
own = jieba.Tokenizer()
own.initialize()
print(json.dumps({"from_cache": from_cache, "freq": freq == own.FREQ, "total": total == own.total,
                  "tags": tags == jieba.posseg.dt.word_tag_tab, "shared": jieba.dt.FREQ is freq and jieba.dt.initialized}))
"""


def _probe(cache: Path) -> dict:
    import json

    env = {**os.environ, "KG_CACHE_DIR": str(cache)}
    done = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_jieba_tables_cache_is_written_read_and_equal_to_jiebas(tmp_path):
    first = _probe(tmp_path)
    assert not first["from_cache"] and (tmp_path / "jieba-tables.marshal").is_file()
    second = _probe(tmp_path)
    assert second == {"from_cache": True, "freq": True, "total": True, "tags": True, "shared": True}
    assert first == {**second, "from_cache": False}


@pytest.mark.parametrize("content", [b"", b"not marshal data", None])
def test_jieba_tables_cache_that_does_not_fit_is_rebuilt(tmp_path, content):
    import marshal

    file = tmp_path / "jieba-tables.marshal"
    file.write_bytes(content if content is not None else marshal.dumps(("another key", {}, 1, {}), 4))
    probe = _probe(tmp_path)
    assert probe == {"from_cache": False, "freq": True, "total": True, "tags": True, "shared": True}
    assert _probe(tmp_path)["from_cache"]
