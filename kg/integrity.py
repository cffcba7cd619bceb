"""Whether a generation of an embedded store is whole, and what to say when it is not.

RocksDB (under Oxigraph) does not check what it reads here: a store file overwritten in place can make a
query allocate without bound.  So a build, once a generation's store is closed, writes the size and CRC-32
of each of its files (``kg-files.json``), and opening the generation compares them with the files: a file
whose size or modification time differs is read again and its checksum compared (a copy of the store made
with ``cp -a`` or ``rsync`` passes; a file changed in place does not).  A damaged generation raises
:class:`StoreDamagedError`, which says what is broken and that ``kg build NOTES --force`` sets it aside and
builds anew.  The errors RocksDB itself raises on damage are turned into the same error
(:func:`reading`).  Checksums of files a build copied (hard-linked) from the generation before are taken
from that generation's list, so a small rebuild reads only its new files.
"""

from __future__ import annotations

import json
import os
import re
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kg.errors import StoreDamagedError

__all__ = ["CHECKSUM_FILE", "StoreDamagedError", "write_checksums", "verify_generation", "reading",
           "damage_error", "set_aside"]

CHECKSUM_FILE = "kg-files.json"
#: the files of a generation that RocksDB writes once and then only reads
_STORE_FILE_RE = re.compile(r"^(?:\d+\.(?:sst|log|blob)|MANIFEST-\d+|OPTIONS-\d+|CURRENT|IDENTITY)$")
_DAMAGE_WORDS = ("Corruption", "corrupt", "IO error", "No such file", "truncated", "checksum", "bad magic",
                 "Invalid argument: ")


def _advice(root: Path | None) -> str:
    where = f" --store {root}" if root is not None else ""
    return f"run 'kg build NOTES{where} --force' to set the damaged generation aside and build anew"


def damage_error(what: str, path: Path | str, root: Path | None = None) -> StoreDamagedError:
    return StoreDamagedError(f"the store is damaged: {what}; {_advice(root)}", path=str(path))


def _crc(path: Path) -> int:
    crc = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            crc = zlib.crc32(chunk, crc)
    return crc


def _store_files(gen: Path) -> list[Path]:
    return sorted(p for p in gen.iterdir() if _STORE_FILE_RE.match(p.name) and p.is_file())


def _read_list(gen: Path) -> dict[str, dict[str, int]] | None:
    """The checksum list of a generation; None when it has none (built by an older kg)."""
    try:
        text = (gen / CHECKSUM_FILE).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as err:
        raise damage_error(f"its file list {CHECKSUM_FILE} cannot be read ({err})", gen, gen.parent) from None
    try:
        files = json.loads(text)["files"]
        return {str(k): {"size": int(v["size"]), "mtime_ns": int(v["mtime_ns"]), "crc32": int(v["crc32"]),
                         "ino": int(v.get("ino", 0))} for k, v in files.items()}
    except (ValueError, KeyError, TypeError, AttributeError):
        raise damage_error(f"its file list {CHECKSUM_FILE} is garbled", gen, gen.parent) from None


def write_checksums(gen: Path, previous: Path | None = None) -> None:
    """Write the checksum list of the (closed) generation ``gen``; files hard-linked from ``previous`` (the
    generation it was copied from: same name, size and time) keep the checksums listed there."""
    known: dict[tuple[str, int, int], int] = {}
    if previous is not None:
        try:
            for name, entry in (_read_list(previous) or {}).items():
                known[(name, entry["size"], entry["mtime_ns"])] = entry["crc32"]
        except StoreDamagedError:
            pass
    files = {}
    for p in _store_files(gen):
        st = p.stat()
        crc = known.get((p.name, st.st_size, st.st_mtime_ns))
        files[p.name] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "ino": st.st_ino,
                         "crc32": _crc(p) if crc is None else crc}
    tmp = gen / (CHECKSUM_FILE + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump({"written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "files": files}, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, gen / CHECKSUM_FILE)


def verify_generation(gen: Path, *, full: bool = False) -> None:
    """Raise :class:`StoreDamagedError` if a file of ``gen`` is missing or not what the build wrote.

    Quick by default (sizes and times; checksums only of files whose time changed); ``full`` reads every file.
    A generation without a list (built by an older kg) passes.
    """
    listed = _read_list(gen)
    if listed is None:
        return
    for name, entry in listed.items():
        p = gen / name
        try:
            st = p.stat()
        except FileNotFoundError:
            raise damage_error(f"{gen.name}/{name} is missing", gen, gen.parent) from None
        except OSError as err:
            raise damage_error(f"{gen.name}/{name} cannot be read ({err.strerror})", gen, gen.parent) from None
        if st.st_size != entry["size"]:
            raise damage_error(f"{gen.name}/{name} is {st.st_size:,} bytes long, not the {entry['size']:,} the "
                               "build wrote (truncated or overwritten)", gen, gen.parent)
        if full or st.st_mtime_ns != entry["mtime_ns"]:
            try:
                crc = _crc(p)
            except OSError as err:
                raise damage_error(f"{gen.name}/{name} cannot be read ({err.strerror})", gen, gen.parent) from None
            if crc != entry["crc32"]:
                raise damage_error(f"{gen.name}/{name} was changed after the build wrote it (its checksum differs)",
                                   gen, gen.parent)


def looks_damaged(err: BaseException) -> bool:
    text = str(err)
    return any(w in text for w in _DAMAGE_WORDS)


@contextmanager
def reading(where: Any) -> Iterator[None]:
    """Turn what RocksDB raises on damaged files, while reading a generation, into :class:`StoreDamagedError`.

    ``where`` is the generation folder, or an object with a ``_gen`` attribute (an open store view).
    """
    try:
        yield
    except (RuntimeError, OSError) as err:
        if not looks_damaged(err):
            raise
        gen = getattr(where, "_gen", where)
        gen = Path(gen) if gen is not None else None
        message = str(err).split("\n")[0][:300]
        if gen is not None:
            message = message.replace(str(gen.resolve()) + "/", "").replace(str(gen) + "/", "")
        raise damage_error(f"reading it failed ({message})", gen or "store",
                           gen.parent if gen is not None else None) from None


def set_aside(gen: Path) -> Path:
    """Rename a damaged generation out of the way (kept for inspection); returns where it went."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = gen.with_name(f"damaged-{gen.name}-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = gen.with_name(f"damaged-{gen.name}-{stamp}-{n}")
    os.replace(gen, target)
    return target
