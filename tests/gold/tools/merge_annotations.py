"""Merge the annotators' files (one JSON per note, the format of tests/gold/README.md without split)
into tests/gold/annotated.json, adding each note's half by the fixed rule (kg.evaluate.gold_split).

One normalisation, from the guidelines ("Headlines are not Papers"): a Paper whose form is a whole
reference-title line in Chinese (a headline) becomes optional, as some annotators had done and others
not.  Usage: python tests/gold/tools/merge_annotations.py ANNOTATIONS_DIR [../shared]
"""

import json
import re
import sys
from pathlib import Path

from kg.evaluate import gold_split
from kg.model import ENTITY_TYPES
from kg.notes import read_note

SOURCES = {"zh": "corpus/posts", "en": "corpus-en/notes"}
CJK = re.compile(r"[\u3400-\u9fff]")


def main(annotations: Path, shared: Path) -> None:
    notes = {}
    for f in sorted(annotations.glob("*.json")):
        d = json.loads(f.read_text(encoding="utf-8"))
        name, lang = d["note"], d["lang"]
        note = read_note(shared / SOURCES[lang] / name, name)
        headlines = {" ".join(b.text.split()) for b in note.blocks if b.kind == "reference_title"}
        entry: dict = {"lang": lang, "split": gold_split(name)}
        optional = {t: [e if isinstance(e, list) else [e] for e in d.get("optional", {}).get(t, [])]
                    for t in ENTITY_TYPES}
        for t in ENTITY_TYPES:
            kept = []
            for e in d.get(t, []):
                e = e if isinstance(e, list) else [e]
                if t == "Paper" and any(" ".join(x.split()) in headlines and CJK.search(x) for x in e):
                    optional["Paper"].append(e)
                else:
                    kept.append(e)
            if kept:
                entry[t] = kept
        if any(optional.values()):
            entry["optional"] = {t: v for t, v in optional.items() if v}
        notes[name] = entry
    out = {"version": 2,
           "sources": ["../../../shared/corpus/posts", "../../../shared/corpus-en/notes"],
           "notes": notes}
    target = Path(__file__).resolve().parents[1] / "annotated.json"
    target.write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{len(notes)} notes written to {target}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2] if len(sys.argv) > 2 else "../shared"))
