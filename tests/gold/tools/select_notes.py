"""How the annotated notes of tests/gold/annotated.json were chosen (run once, before any annotation).

Chinese posts of ../shared/corpus/posts are grouped by kind (from their front-matter category);
within a kind they are ordered by the SHA-1 of their file name and the first ones taken.  English
notes of ../shared/corpus-en/notes are ordered the same way, at most two per folder, skipping notes
whose prose is under 1,500 characters.  The notes of tests/gold/gold.json (read while the old rules
were written) are left out.  Nothing here looks at what a note says beyond its category and length.

Batch 1 (the first run) takes the counts in KINDS and 24 English notes; batch 2 (``--batch 2``, run
after batch 1 was annotated, to have more notes to train on) takes the next BATCH2 of each kind and the
next 24 English notes, at most four per folder counting both batches.  Batch 3 (``--batch 3``) takes
every post not yet taken (whatever its kind) and the next 48 English notes, at most eight per folder.
Batch 4 (``--batch 4``, every post being taken) takes the next 48 English notes, at most twelve per folder.

The split into dev and test halves is kg.evaluate.gold_split: a fixed rule on the note's path.
"""

import hashlib
import re
import sys
from pathlib import Path

KINDS = {
    "history": ({"Ancient China", "WW2", "Red star", "Russia", "Korean War", "Bombs & Satellite", "tales"}, 14),
    "current affairs": ({"Russo Ukrainian War Wind", "Russo Ukrainian War Sky", "Russo Ukrainian War Fire",
                         "Russo Ukrainian War Cloud", "World", "Asia", "Middle East", "COVID19"}, 14),
    "reading lists": ({"resource", "DL & NLP resource"}, 10),
    "systems": ({"technology", "linux", "AI", "DL", "ML", "language", "database", "toolchain", "DL Framework",
                 "speech", "graphics", "CV", "Attention", "RL", "DRL", "Deep Object Detection", "Segmentation",
                 "Generative Model", "Recommender System", "DL acceleration", "robot", "graph"}, 16),
    "business": ({"money", "Chip", "my story", "Biology"}, 6),
    "essays and nature": ({"essay", "Nature", "Education", "math"}, 8),
}
BATCH2 = {"history": 10, "current affairs": 10, "reading lists": 6, "systems": 12, "business": 4,
          "essays and nature": 6}
OLD_GOLD = {"2026-6-10-Qing_7.markdown", "2025-5-26-Russo_Ukrainian_War_Fire_13.markdown",
            "2018-1-13-Deep_Learning_29.markdown", "2024-5-27-red_spy.markdown",
            "2022-9-20-recommender_system_4.markdown"}


def sha(name: str) -> str:
    return hashlib.sha1(name.encode("utf-8")).hexdigest()


def main(shared: Path, batch: int = 1) -> None:
    if batch == 4:
        print(*(f"en\t{folder}\t{name}" for folder, name in english(shared, 4)), sep="\n")
        return
    if batch == 3:
        taken = {name for b in (1, 2) for name in chinese(shared, b)}
        for f in sorted((f.name for f in (shared / "corpus" / "posts").iterdir()), key=sha):
            if f not in taken and f not in OLD_GOLD:
                print("zh", "any", f, sep="\t")
        print(*(f"en\t{folder}\t{name}" for folder, name in english(shared, 3)), sep="\n")
        return
    for name in chinese(shared, batch, echo=True):
        pass
    print(*(f"en\t{folder}\t{name}" for folder, name in english(shared, batch)), sep="\n")


def chinese(shared: Path, batch: int, echo: bool = False) -> list[str]:
    posts = shared / "corpus" / "posts"
    by_kind: dict[str, list[str]] = {k: [] for k in KINDS}
    for f in sorted(posts.iterdir()):
        if f.name in OLD_GOLD:
            continue
        m = re.search(r"^category:\s*(.*?)\s*$", f.read_text(encoding="utf-8"), re.M)
        cat = m.group(1) if m else ""
        for kind, (cats, _) in KINDS.items():
            if cat in cats:
                by_kind[kind].append(f.name)
    out = []
    for kind, (_, n) in KINDS.items():
        first, last = (0, n) if batch == 1 else (n, n + BATCH2[kind])
        for name in sorted(by_kind[kind], key=sha)[first:last]:
            if echo:
                print("zh", kind, name, sep="\t")
            out.append(name)
    return out


def english(shared: Path, batch: int) -> list[tuple[str, str]]:
    from kg.notes import read_note

    notes = shared / "corpus-en" / "notes"
    earlier = {name for b in range(1, batch) for _, name in english(shared, b)}
    per_folder: dict[str, int] = {}
    for name in earlier:
        folder = name.split("__", 1)[0]
        per_folder[folder] = per_folder.get(folder, 0) + 1
    taken = []
    for name in sorted((f.name for f in notes.iterdir() if f.suffix == ".md"), key=sha):
        folder = name.split("__", 1)[0]
        if name in earlier or per_folder.get(folder, 0) >= (2, 4, 8, 12)[batch - 1]:
            continue
        if sum(len(b.text.strip()) for b in read_note(notes / name, name).blocks) < 1500:
            continue
        per_folder[folder] = per_folder.get(folder, 0) + 1
        taken.append((folder, name))
        if len(taken) == (24, 24, 48, 48)[batch - 1]:
            break
    return taken

if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--batch")]
    batch = next((int(a.split("=")[1]) for a in sys.argv[1:] if a.startswith("--batch=")), 1)
    main(Path(args[0] if args else "../shared"), batch)
