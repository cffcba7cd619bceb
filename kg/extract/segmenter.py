"""jieba, its tables and the extraction's own segmenter: no spaCy.

``_import_jieba`` (jieba without ``pkg_resources``), ``jieba_tables`` (jieba's dictionary
and POS tables from one marshal cache, written from jieba's own the first time) and
``Segmenter``, which cuts a text word for word as ``jieba.cut`` does, with offsets.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import sys
import tempfile
from math import log as _log
from typing import Any

__all__ = ["Segmenter", "jieba_tables"]


#: bumped when the layout of the cached jieba tables changes
_TABLES_FORMAT = 1


def _tables_cache_file(key: str) -> str:
    """Where the jieba tables of ``key`` are cached: in ``$KG_CACHE_DIR``, else ``$XDG_CACHE_HOME/kg``
    or ``~/.cache/kg``, named after the key (a file for another jieba or dictionary is another file)."""
    if os.environ.get("KG_CACHE_DIR"):
        root = os.path.abspath(os.environ["KG_CACHE_DIR"])
    else:
        root = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "kg")
        if not os.path.isabs(root):  # no home directory to be found: the temporary directory, per user
            root = os.path.join(tempfile.gettempdir(), f"kg-cache-{os.getuid() if hasattr(os, 'getuid') else 'user'}")
    return os.path.join(root, f"jieba-tables-{hashlib.sha1(key.encode()).hexdigest()[:16]}.marshal")


def _import_jieba() -> Any:
    """jieba, imported with setuptools' ``pkg_resources`` hidden.  jieba imports it only to open its own
    data files and falls back to plain paths without it, while importing it scans every installed
    distribution: ~0.2 s of each extraction worker's start, a tenth of a one-note rebuild."""
    if "jieba" in sys.modules:
        return sys.modules["jieba"]
    hide = "pkg_resources" not in sys.modules
    if hide:
        sys.modules["pkg_resources"] = None  # type: ignore[assignment]  # makes `import pkg_resources` fail
    try:
        import jieba
    finally:
        if hide and sys.modules.get("pkg_resources", 0) is None:
            del sys.modules["pkg_resources"]
    return jieba


def jieba_tables() -> tuple[dict[str, int], int, dict[str, str]]:
    """jieba's prefix dictionary (word → frequency, 0 for prefixes only), its total, and its
    part-of-speech tags (``jieba.posseg``'s table), with jieba's default tokenizer initialised.

    jieba reads its dictionary cache an object at a time and ``jieba.posseg`` parses its
    dictionary text on import (together ~1.1 s); here both tables come from one file read at
    once (~0.3 s), written from jieba's own tables the first time and keyed by jieba's version
    and its dictionary file, so a changed dictionary is read again.  Any problem with the cache
    falls back to jieba's own loading.
    """
    jieba = _import_jieba()

    jieba.setLogLevel(60)
    dt = jieba.dt
    default_dict = dt.dictionary is None and not dt.user_word_tag_tab
    try:
        st = os.stat(os.path.join(os.path.dirname(jieba.__file__), jieba.DEFAULT_DICT_NAME))
        key = f"kg-jieba-tables {_TABLES_FORMAT} jieba {jieba.__version__} {st.st_size} {st.st_mtime_ns}"
    except OSError:
        default_dict = False
    unfit = False  # a cache file that could not be used: written again
    if default_dict and not dt.initialized and "jieba.posseg" not in sys.modules:
        try:
            with open(_tables_cache_file(key), "rb") as f:
                head, freq, total, tags = marshal.loads(f.read())
            if head == key and type(freq) is dict and type(total) is int and type(tags) is dict:
                dt.FREQ, dt.total, dt.initialized = freq, total, True
                return freq, total, tags
            unfit = True
        except FileNotFoundError:
            pass
        except (OSError, ValueError, EOFError, TypeError):
            unfit = True
    import jieba.posseg

    jieba.initialize()
    freq, total, tags = dt.FREQ, dt.total, jieba.posseg.dt.word_tag_tab
    if default_dict and (unfit or not os.path.isfile(_tables_cache_file(key))):
        _write_tables(key, freq, total, tags)
    return freq, total, tags


def _write_tables(key: str, freq: dict[str, int], total: int, tags: dict[str, str]) -> None:
    """Write the tables cache atomically; a cache that cannot be written is simply not used."""
    path = _tables_cache_file(key)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        same = {w: w for w in freq}  # the tag table shares the dictionary's strings (smaller, faster to read)
        shared = {same.get(w, w): sys.intern(t) for w, t in tags.items()}
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".jieba-tables.")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(marshal.dumps((key, freq, total, shared), 4))
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
        for name in os.listdir(os.path.dirname(path)):  # the tables of an older jieba or dictionary
            if name.startswith("jieba-tables-") and name != os.path.basename(path):
                os.unlink(os.path.join(os.path.dirname(path), name))
    except OSError:
        pass


class Segmenter:
    """``jieba.cut(text, cut_all=False, HMM=True)``, word for word, with character offsets.

    The same steps as jieba's default tokenizer (blocks of Han characters and Latin letters,
    the most probable route through the dictionary's words, the HMM for runs of single
    characters outside it) on the same tables and with the same floating-point arithmetic and
    tie-breaking, so the words are identical; it only spends fewer Python steps per character
    (no DAG dictionary, one lookup per prefix, the HMM's Viterbi pass unrolled for its four
    states and its results remembered per run).
    """

    _HMM_CACHE_MAX = 200_000

    def __init__(self, freq: dict[str, int], total: int):
        jieba = _import_jieba()
        from jieba import finalseg

        self.freq = freq
        self.logtotal = _log(total)
        self.re_han = jieba.re_han_default
        self.hmm_re_han = finalseg.re_han
        self.hmm_re_skip = finalseg.re_skip
        self.force_split = finalseg.Force_Split_Words
        self.hmm_cache: dict[str, list[str]] = {}
        self.emission: dict[str, tuple[float, float, float, float]] = {}  # per character, filled as met
        # per character: None when no word starts with it, False when only longer ones do, else its
        # word's log(freq) - log(total) (a small table: the first lookup at each position)
        self.chars: dict[str, Any] = {}
        start, trans, emit = finalseg.start_P, finalseg.trans_P, finalseg.emit_P
        low = finalseg.MIN_FLOAT
        self.min_float = low
        self.start = tuple(start[y] for y in "BMES")
        self.emit = tuple(emit[y] for y in "BMES")
        # the transitions jieba's Viterbi pass weighs (finalseg.PrevStatus): B ← E S, M ← M B, S ← S E, E ← B M
        self.trans = (trans["E"].get("B", low), trans["S"].get("B", low), trans["M"].get("M", low),
                      trans["B"].get("M", low), trans["S"].get("S", low), trans["E"].get("S", low),
                      trans["B"].get("E", low), trans["M"].get("E", low))

    def __call__(self, text: str) -> list[tuple[int, int, str]]:
        out: list[tuple[int, int, str]] = []
        append = out.append
        pos = 0
        # re.split with one group: odd pieces are the blocks jieba segments, even ones the rest
        for k, blk in enumerate(self.re_han.split(text)):
            if k & 1:
                pos = self._cut_block(blk, pos, out)
            else:
                for ch in blk:  # jieba yields these one character at a time (whitespace runs dropped here)
                    if not ch.isspace():
                        append((pos, pos + 1, ch))
                    pos += 1
        return out

    def _cut_block(self, sentence: str, pos: int, out: list[tuple[int, int, str]]) -> int:
        """jieba's ``Tokenizer.__cut_DAG`` on one block: its words appended to ``out`` from offset
        ``pos`` on; returns the offset after them."""
        freq, logtotal = self.freq, self.logtotal
        n = len(sentence)
        # route: for each position the best (log probability, end of its first word), right to left;
        # log(freq) - logtotal + rest, the greatest (probability, end) pair, as jieba's calc
        best_p = [0.0] * (n + 1)
        best_x = [0] * (n + 1)
        log = _log
        alone = 0.0 - logtotal  # a character no word starts with: frequency 1
        chars = self.chars
        for idx in range(n - 1, -1, -1):
            c = sentence[idx]
            v = chars.get(c, chars)
            if v is chars:
                f = freq.get(c)
                v = chars[c] = None if f is None else log(f) - logtotal if f else False
            if v is None:  # no word starts with this character
                best_p[idx] = alone + best_p[idx + 1]
                best_x[idx] = idx
                continue
            i = idx + 1
            bp = None if v is False else v + best_p[i]
            bx = idx
            while i < n:
                i += 1
                f = freq.get(sentence[idx:i])
                if f is None:
                    break
                if f:
                    p = log(f) - logtotal + best_p[i]
                    if bp is None or p >= bp:
                        bp = p
                        bx = i - 1
            best_p[idx] = alone + best_p[idx + 1] if bp is None else bp
            best_x[idx] = bx
        append = out.append
        x = 0
        run = -1  # where the current run of single characters started
        while x < n:
            y = best_x[x] + 1
            if y - x == 1:
                if run < 0:
                    run = x
            else:
                if run >= 0:
                    pos = self._flush(sentence[run:x], pos, out)
                    run = -1
                append((pos, pos + y - x, sentence[x:y]))
                pos += y - x
            x = y
        if run >= 0:
            pos = self._flush(sentence[run:], pos, out)
        return pos

    def _flush(self, buf: str, pos: int, out: list[tuple[int, int, str]]) -> int:
        """A run of single characters: as it is when the dictionary knows it, else the HMM's words."""
        if len(buf) == 1:
            out.append((pos, pos + 1, buf))
            return pos + 1
        if not self.freq.get(buf):
            words = self.hmm_cache.get(buf)
            if words is None:
                if len(self.hmm_cache) >= self._HMM_CACHE_MAX:
                    self.hmm_cache.clear()
                words = self.hmm_cache[buf] = self._hmm_cut(buf)
        else:
            words = buf
        for w in words:
            end = pos + len(w)
            out.append((pos, end, w))
            pos = end
        return pos

    def _hmm_cut(self, sentence: str) -> list[str]:
        """jieba's ``finalseg.cut``."""
        out: list[str] = []
        for k, blk in enumerate(self.hmm_re_han.split(sentence)):
            if k & 1:
                for word in self._viterbi_words(blk):
                    if word not in self.force_split:
                        out.append(word)
                    else:
                        out.extend(word)
            else:
                out.extend(x for x in self.hmm_re_skip.split(blk) if x)
        return out

    def _emission(self, c: str) -> tuple[float, float, float, float]:
        """The emission log probabilities of a character in states B M E S (jieba's floor where none)."""
        low = self.min_float
        found = self.emission[c] = tuple(e.get(c, low) for e in self.emit)  # type: ignore[assignment]
        return found  # type: ignore[return-value]

    def _viterbi_words(self, obs: str) -> list[str]:
        """jieba's ``finalseg.__cut``: the Viterbi pass over states B M E S, then the words.

        Each state's score is max((score of the previous state + transition + emission, previous
        state)) as in ``finalseg.viterbi``, ties going to the greater state letter."""
        tEB, tSB, tMM, tBM, tSS, tES, tBE, tME = self.trans
        sB, sM, sE, sS = self.start
        emission = self.emission
        emit = emission.get(obs[0]) or self._emission(obs[0])
        vB, vM, vE, vS = sB + emit[0], sM + emit[1], sE + emit[2], sS + emit[3]
        back: list[tuple[str, str, str, str]] = []  # per step, the previous state of B, M, E, S
        for c in obs[1:]:
            emB, emM, emE, emS = emission.get(c) or self._emission(c)
            p1, p2 = vE + tEB + emB, vS + tSB + emB
            nB, fB = (p2, "S") if p2 >= p1 else (p1, "E")
            p1, p2 = vM + tMM + emM, vB + tBM + emM
            nM, fM = (p2, "B") if p2 > p1 else (p1, "M")
            p1, p2 = vS + tSS + emS, vE + tES + emS
            nS, fS = (p2, "E") if p2 > p1 else (p1, "S")
            p1, p2 = vB + tBE + emE, vM + tME + emE
            nE, fE = (p2, "M") if p2 >= p1 else (p1, "B")
            vB, vM, vE, vS = nB, nM, nE, nS
            back.append((fB, fM, fE, fS))
        state = "S" if vS >= vE else "E"
        states = [state]
        for fB, fM, fE, fS in reversed(back):
            state = fB if state == "B" else fM if state == "M" else fE if state == "E" else fS
            states.append(state)
        states.reverse()
        words: list[str] = []
        begin = nexti = 0
        for i, pos in enumerate(states):
            if pos == "B":
                begin = i
            elif pos == "E":
                words.append(obs[begin : i + 1])
                nexti = i + 1
            elif pos == "S":
                words.append(obs[i])
                nexti = i + 1
        if nexti < len(obs):
            words.append(obs[nexti:])
        return words
