"""The build: notes → extraction → RDF → store → links, composed here and only here.

Stages take plain data and never import each other; this module moves data
between them.  A build is incremental (unchanged notes are skipped, changed
ones replaced, deleted ones removed) and atomic (it writes a new store
generation that goes live only when complete).
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rdflib import RDF, XSD, Literal, URIRef

from kg import __version__
from kg import extract as nlp
from kg import links as link_stage
from kg.allocator import keep_big_blocks_apart
from kg.curation import load_curation
from kg.entity_graph import EntityGraph
from kg.errors import KGError, NoteError
from kg.extract.limits import NoteLimits
from kg.extract.tagger_model import tagger_digest
from kg.model import EXTRACTOR_VERSION, Note, ReadProblem
from kg.notes import NOTE_SUFFIXES, note_hash, parse_note, read_note_bytes, scan_notes
from kg.parallel import WorkerPools, free_in_background, pause_for_forks
from kg.rdf import GRAPH_VERSION, entity_triples, iter_note_triples, note_triples
from kg.store import DEFAULT_STORE, EmbeddedStore, write_store
from kg.textindex import INDEX_FILE, TextIndex, rows_from_note, rows_from_store
from kg.vocab import GRAPH_LAYOUT, KG, LINKS_GRAPH, META_GRAPH, note_graph

__all__ = ["BuildReport", "build", "CURATION_FILE"]

CURATION_FILE = "kg-curation.toml"

#: progress callback: (phase, done, total)
Progress = Callable[[str, int, int], None]


@dataclass
class BuildReport:
    store: str
    notes_seen: int = 0
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    problems: list[ReadProblem] = field(default_factory=list)
    warnings: list[ReadProblem] = field(default_factory=list)  # notes built all the same (front matter ignored)
    kept_on_error: list[str] = field(default_factory=list)  # notes that failed now but keep their last good graph
    skipped: list[str] = field(default_factory=list)  # what was left out on purpose, and why (links, FIFOs)
    links: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)  # seconds per stage
    characters: int = 0
    generation: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def nothing_to_do(self) -> bool:
        return not (self.added or self.changed or self.removed)

    def as_dict(self) -> dict:
        return {
            "store": self.store,
            "notes": self.notes_seen,
            "added": len(self.added),
            "changed": len(self.changed),
            "removed": len(self.removed),
            "unchanged": self.unchanged,
            "problems": [str(p) for p in self.problems],
            "warnings": [str(p) for p in self.warnings],
            "skipped": self.skipped,
            "links": self.links,
            "seconds": round(self.seconds, 3),
            "phases": {k: round(v, 3) for k, v in self.phases.items()},
            "characters": self.characters,
            "generation": self.generation,
        }


def _curation_files(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    folders = (Path(p) if Path(p).is_dir() else Path(p).parent for p in paths)
    return [f for f in (folder / CURATION_FILE for folder in folders) if f.is_file()]


def _fingerprint(model: str | None, curation_files: Iterable[Path], extract: bool) -> str:
    h = hashlib.sha256()
    h.update(f"kg {__version__} model={model} extract={extract} graph={GRAPH_VERSION}".encode())
    if extract:
        h.update(EXTRACTOR_VERSION.encode())
        h.update(tagger_digest().encode())  # a retrained tagger is another extractor
    for f in curation_files:
        h.update(f.read_bytes())
    return h.hexdigest()


def build(
    paths: Sequence[str | os.PathLike[str]],
    store: str | os.PathLike[str] = DEFAULT_STORE,
    *,
    model: str | None = None,
    extract: bool = True,
    links: bool = True,
    n_process: int = 1,
    force: bool = False,
    progress: Progress | None = None,
    follow_symlinks: bool = False,
    limits: NoteLimits | None = None,
) -> BuildReport:
    """Build (or update) the graph of the notes under ``paths`` into ``store``.

    Problems with single files are collected in the report (the rest of the
    build goes on); errors that stop the build raise :class:`kg.errors.KGError`
    and leave the live store as it was.  Links that leave a notes folder are
    skipped unless ``follow_symlinks``; ``force`` also sets a damaged live
    generation aside (kg.integrity) and builds anew.  A note whose extraction fails or passes
    ``limits`` (time, memory: :class:`kg.extract.NoteLimits`) is a problem of the report; its text and
    sources are still written.  Big blocks of memory are kept apart (:mod:`kg.allocator`).
    """
    # the build makes millions of small objects and drops none of them until its end: the cycle collector,
    # triggered by allocations alone, would walk them over and over (a third of a rebuild's time).  This is
    # the one place kg turns it off (kg.parallel turns it on again in the long-lived worker processes)
    gc_was_enabled = gc.isenabled()
    gc.disable()
    keep_big_blocks_apart()
    try:
        return _build(paths, store, model=model, extract=extract, links=links, n_process=n_process, force=force,
                      progress=progress, follow_symlinks=follow_symlinks, limits=limits)
    finally:
        if gc_was_enabled:
            gc.enable()


def _build(paths, store, *, model, extract, links, n_process, force, progress, follow_symlinks,
           limits=None) -> BuildReport:
    t0 = time.perf_counter()
    report = BuildReport(store=str(store))
    scan = scan_notes(paths, follow_symlinks=follow_symlinks)
    files = scan.files
    if not files and not scan.unreadable:
        raise NoteError(f"no notes found in {', '.join(map(str, paths)) or 'no folder given'} (kg reads files "
                        f"ending in {', '.join(NOTE_SUFFIXES)}, outside hidden folders); give the folder that "
                        "holds your notes")
    report.problems.extend(scan.problems)
    report.skipped.extend(scan.skipped)
    curation_files = _curation_files(paths)
    # where a note looks edited since the live generation, one extraction worker starts loading the pipeline
    # (a second or more) before anything else: opening the store, hashing the notes and reading the link
    # cache happen meanwhile.  (A build with nothing to do would only pay for it.)
    use_workers = extract and files and n_process > 1 and _Workers.available()
    workers = _Workers(model, curation_files, 1, limits) if use_workers and _edited_since_live(files, store) else None
    try:
        fingerprint = _fingerprint(model, curation_files, extract)
        # a build that rewrites every note (forced, or new settings) starts from an empty generation
        live = _live_store(store)
        live_meta = live.meta() if live is not None else {}
        rewrite = live is not None and (force or live_meta.get("fingerprint") != fingerprint)
        if live_meta.get("fingerprint") and live_meta.get("layout") != GRAPH_LAYOUT:  # (kg.store.check_layout)
            report.warnings.append(ReadProblem(str(store), None, f"the store was written in graph layout "
                                               f"{live_meta.get('layout', '2 or older')}: every note is rebuilt in "
                                               f"layout {GRAPH_LAYOUT}", warning=True))
        remote = str(store).startswith(("http://", "https://"))  # (a server's threads are not ours)
        if use_workers and ((live is None and not remote) or rewrite):
            # every note will be extracted: all the workers are forked now, before opening the store starts
            # its threads (no pause stops those; a fork while a thread starts can leave the child waiting
            # forever on a lock it copied).  Later forks happen inside the writer's pause (kg.parallel).
            workers = workers or _Workers(model, curation_files, 1, limits)
            workers.grow(n_process)
        with write_store(store, empty=rewrite, live_view=live, set_aside_damaged=force) as writer, \
                pause_for_forks(getattr(writer, "quiet", None)):
            old, old_meta = ((live.note_hashes(), live.meta()) if rewrite else
                             (writer.note_hashes(), _read_meta(writer)))
            live = None
            rebuild_all = rewrite or force or old_meta.get("fingerprint") != fingerprint
            if use_workers and workers is None:
                workers = _Workers(model, curation_files, 1, limits)
            if workers is not None and (rebuild_all or not old):
                workers.grow(n_process)
            spent = _build_into(writer, report, files, old, rebuild_all, fingerprint, model, curation_files,
                                extract, links, n_process, progress, workers, t0, scan.unreadable, limits)
    finally:
        if workers is not None:
            workers.close()
    report.seconds = time.perf_counter() - t0
    _free_after_build(spent)
    return report


def _build_into(writer, report: BuildReport, files, old: dict[str, str], rebuild_all: bool, fingerprint: str,
                model, curation_files, extract: bool, links: bool, n_process: int, progress, workers, t0: float,
                unreadable: Sequence[str] = (), limits: NoteLimits | None = None):
    todo: list[Note] = []
    seen: set[str] = set()
    failed_paths: set[str] = set()
    for i, (file, rel) in enumerate(files):
        # hash the bytes first: an unchanged note is never parsed
        try:
            data = read_note_bytes(file, rel)
            digest = note_hash(data)
            prev = old.get(rel)
            if prev == digest and not rebuild_all:
                report.unchanged += 1
                seen.add(rel)
                continue
            note = parse_note(data, rel, file=str(file.resolve()))
        except NoteError as err:
            report.problems.append(ReadProblem(rel, err.line, err.message))
            failed_paths.add(rel)
            continue
        for problem in note.problems:
            (report.warnings if problem.warning else report.problems).append(problem)
        seen.add(rel)
        (report.added if prev is None else report.changed).append(rel)
        todo.append(note)
        if progress:
            progress("read", i + 1, len(files))
    note = None  # (todo holds the notes, and lets each go once it is written)
    report.notes_seen = len(seen)
    for path in sorted(old):
        if path in seen:
            continue
        if path in failed_paths or any(path == u or path.startswith(u + "/") or not u for u in unreadable):
            report.kept_on_error.append(path)
        else:
            report.removed.append(path)
    if report.nothing_to_do:
        return None  # the writer's generation is dropped; the live one stays
    if writer.local and writer.empty:  # notes that failed now keep their last good graph
        for path in report.kept_on_error:
            writer.copy_graph_from_live(str(note_graph(path)))
    index = _start_text_index(writer, report.kept_on_error)
    # the entities graph is written from the extractions alone where the generation holds only the notes
    # this build writes (kg.entity_graph)
    entities = EntityGraph(writer, fresh=not report.kept_on_error and (writer.empty or rebuild_all or not old))
    try:
        return _write_generation(writer, report, todo, fingerprint, model, curation_files, extract, links,
                                 n_process, progress, workers, t0, index, limits, entities)
    finally:
        if index is not None:
            index.close()


def _write_generation(writer, report: BuildReport, todo: list[Note], fingerprint: str, model, curation_files,
                      extract: bool, links: bool, n_process: int, progress, workers, t0: float, index,
                      limits: NoteLimits | None, entities: EntityGraph):
    report.characters = sum(len(n.text) for n in todo)
    t_read = time.perf_counter()
    report.phases["read"] = t_read - t0
    if workers is not None and len(todo) > 2 * _Workers.CHUNK:
        workers.grow(n_process)
    extractions = _extract(todo, model, curation_files, n_process, progress, workers, limits) if extract else None
    # the link pass reads its last cache while the workers extract
    relink = _prepare_links(writer, report.added + report.changed, report.removed) if links and extract else None
    link_parts: dict[str, Any] | None = {} if relink is not None else None
    entities.forget([*report.changed, *report.removed])
    for i, note in enumerate(todo):
        ex = next(extractions) if extractions is not None else None
        if ex is not None and ex.problem:
            # its text and sources are written, no entities, and no hash: the next build tries it again
            report.problems.append(ReadProblem(note.path, None, ex.problem))
            note, ex = replace(note, sha256=""), None
        writer.replace_note(note.path, iter_note_triples(note, ex))
        entities.add(note.path, ex)
        if index is not None:
            index.replace_note(note.path, rows_from_note(note))
        if link_parts is not None:  # what the link pass would otherwise read back from the store
            link_parts[note.path] = link_stage.part_from_note(note, ex) or link_stage.part_from_triples(
                [*note_triples(note, ex), *(entity_triples(ex.entities) if ex is not None else ())])
        if progress and extractions is None:
            progress("graph", i + 1, len(todo))
        todo[i] = note = ex = None  # not needed again: a big note's memory back (and the notes the generators hold)
    extractions = None
    if workers is not None:
        workers.close()  # their memory back before the link pass
    for path in report.removed:
        writer.remove_note(path)
        if index is not None:
            index.remove_note(path)
    if index is not None:
        index.commit()
    entities.write()
    writer.flush()
    t_notes = time.perf_counter()
    report.phases["extract+store"] = t_notes - t_read
    if links and extract:
        report.links = _update_links(writer, progress, relink, link_parts, report.phases)
    t_links = time.perf_counter()
    report.phases["links"] = t_links - t_notes
    writer.replace_graph(str(META_GRAPH), _meta_triples(fingerprint, report))
    writer.commit(optimize=len(todo) >= 200)
    report.phases["commit"] = time.perf_counter() - t_links
    report.generation = writer.target.name
    return [todo, link_parts, relink]  # the build's working set: freed once the build is over


def _start_text_index(writer, kept: Sequence[str]):
    """The text index (kg.textindex) of the generation an embedded store's build writes: a copy of the live
    generation's, or, for a generation started empty, a new one holding the notes kept from the live one.
    None for a store in a SPARQL server (the API builds its index from the server's graph)."""
    if not writer.local:
        return None
    target, live, empty = writer.target, writer.live, writer.empty
    live_index = live / INDEX_FILE if live is not None else None
    have_live = live_index is not None and live_index.is_file()
    index = TextIndex.for_build(target / INDEX_FILE, start_from=live_index if have_live and not empty else None)
    if empty:  # the notes that failed now keep their last good rows, as they keep their graph
        old = TextIndex.open(live_index) if have_live else None
        try:
            for path in kept:
                rows = old.rows_of(path) if old is not None else \
                    rows_from_store(writer.select, str(note_graph(path)))
                index.replace_note(path, rows)
        finally:
            if old is not None:
                old.close()
    elif live is not None and not have_live:  # a generation from before the index: read it from the graph
        by_note: dict[str, list] = {}
        for row in rows_from_store(writer.select):
            by_note.setdefault(row.note, []).append(row)
        for path, rows in by_note.items():
            index.replace_note(path, rows)
    return index


def _free_after_build(spent: list | None) -> None:
    """Free a build's working set (millions of objects) in a thread, once the build is done and live: started
    earlier, the thread would hold the GIL against the build's last steps."""
    if not spent:
        return
    if spent[2] is not None:
        spent[2].release()
    free_in_background(spent)


def _edited_since_live(files, store) -> bool:
    """Whether a note file was modified after the live generation went live (or there is none): a hint only."""
    try:
        since = (Path(store) / "CURRENT").stat().st_mtime
    except OSError:
        return True
    for file, _ in files:
        try:
            if file.stat().st_mtime >= since:
                return True
        except OSError:
            return True
    return False


def wait_for_background(store: str | os.PathLike[str] = DEFAULT_STORE) -> float:
    """Wait until what the last build of the folder ``store`` left to finish in the background (its link
    cache) is written; returns the seconds waited.  A build does this itself when it needs the cache."""
    t0 = time.perf_counter()
    try:
        live = Path(store) / (Path(store) / "CURRENT").read_text(encoding="utf-8").strip()
    except OSError:
        return 0.0
    link_stage.wait_for_cache(live / link_stage.CACHE_FILE)
    return time.perf_counter() - t0


def _live_store(store):
    """The live generation of a folder store, read-only (kg.store.EmbeddedStore); None for none or a server."""
    if str(store).startswith(("http://", "https://")) or not (Path(store) / "CURRENT").is_file():
        return None
    try:
        return EmbeddedStore(store)
    except KGError:
        return None


def _read_meta(writer) -> dict[str, str]:
    rows = writer.select("SELECT ?p ?o ?g WHERE { GRAPH ?g { ?m ?p ?o } }", {"g": META_GRAPH})
    return {str(r["p"]).rsplit("#", 1)[-1]: str(r["o"]) for r in rows}


def _meta_triples(fingerprint: str, report: BuildReport):
    node = URIRef(str(META_GRAPH) + "#build")
    yield node, RDF.type, URIRef("http://www.w3.org/ns/prov#Activity")
    yield node, URIRef(str(KG._NS) + "fingerprint"), Literal(fingerprint)
    yield node, URIRef(str(KG._NS) + "version"), Literal(__version__)
    yield node, URIRef(str(KG._NS) + "layout"), Literal(GRAPH_LAYOUT)
    yield node, URIRef(str(KG._NS) + "builtAt"), Literal(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                                         datatype=XSD.dateTime)
    yield node, URIRef(str(KG._NS) + "report"), Literal(json.dumps(report.as_dict(), ensure_ascii=False))


def _extract(notes: list[Note], model, curation_files, n_process, progress, workers: "_Workers | None" = None,
             limits: NoteLimits | None = None):
    """Yield one Extraction per note, in order: in the worker processes when there are some, else here."""
    if workers is not None:
        found = workers.extract(notes)
    else:
        curation = load_curation(curation_files) if curation_files else None
        found = nlp.load_extractor(model, curation, limits=limits).extract_many(notes, n_process=n_process)
    for i, ex in enumerate(found):
        if progress:
            progress("extract", i + 1, len(notes))
        yield ex


# --------------------------------------------------------------------------- extraction workers

_WORKER: dict[str, Any] = {}


def _load_in_worker(model: str | None, curation_files: tuple[str, ...], limits: NoteLimits | None = None) -> None:
    """Worker set-up: load the pipeline once per worker; a failure is kept and raised by the first task."""
    try:
        nlp.import_spacy_without_cli()  # a worker never needs spaCy's command line
        curation = load_curation([Path(f) for f in curation_files]) if curation_files else None
        _WORKER["extractor"] = nlp.load_extractor(model, curation, limits=limits)
    except BaseException as exc:  # noqa: BLE001  re-raised in the parent through the first task
        _WORKER["error"] = exc


def _extract_in_worker(notes: list[Note]) -> list[Any]:
    if "error" in _WORKER:
        raise _WORKER["error"]
    return list(_WORKER["extractor"].extract_many(notes))


class _Workers:
    """Extraction processes (kg.parallel.WorkerPools) forked as soon as the build knows it may extract: loading
    the pipeline (spaCy, jieba's dictionary: seconds) then overlaps reading the notes and preparing the links.
    One worker starts at once (enough for a few changed notes); :meth:`grow` adds the others when there is
    much to extract."""

    CHUNK = 4  # notes per task: small enough to balance the workers, large enough to amortise the round trip
    available = staticmethod(WorkerPools.available)

    def __init__(self, model: str | None, curation_files: Sequence[Path], processes: int = 1,
                 limits: NoteLimits | None = None):
        self._pools = WorkerPools(_load_in_worker, (model, tuple(str(f) for f in curation_files), limits), processes)

    def grow(self, processes: int) -> None:
        """Have ``processes`` workers in all."""
        self._pools.grow(processes)

    def extract(self, notes: list[Note]) -> Iterator[Any]:
        chunks = [notes[i:i + self.CHUNK] for i in range(0, len(notes), self.CHUNK)]
        for found in self._pools.map(_extract_in_worker, chunks):
            yield from found

    def close(self) -> None:
        self._pools.close()


def _prepare_links(writer, changed: Sequence[str], removed: Sequence[str]):
    """The link pass's first step (kg.links.Relink) on an embedded store: its cache of the last pass read,
    the unchanged notes put together.  None for a remote store (its link pass reads everything)."""
    if not writer.local:
        return None
    target = writer.target
    writer.flush()
    try:
        live = writer.root / (writer.root / "CURRENT").read_text(encoding="utf-8").strip()
    except OSError:
        live = None
    return link_stage.Relink(writer.oxigraph, str(LINKS_GRAPH), changed=changed, removed=removed,
                             cache_in=live / link_stage.CACHE_FILE if live else None,
                             cache_out=target / link_stage.CACHE_FILE)


def _update_links(writer, progress, relink, link_parts=None,
                  phases: dict[str, float] | None = None) -> dict[str, int]:
    """Bring the link graph up to date (kg.links): patched from the changed notes when few changed, else
    recomputed from the whole store; the link input is kept beside the generation for the next build."""
    if progress:
        progress("links", 0, 1)
    if relink is not None:  # embedded store
        writer.flush()  # the notes' quads are written while the pass computes
        result, info = relink.run(link_parts, load=writer.load, wait=writer.sync)
        relink.store = None  # the generation's store closes at commit only if nothing else holds it
        if phases is not None:
            phases.update({f"links.{k}": v for k, v in info.seconds.items()})
            phases["links.incremental"] = float(info.mode == "incremental")
    else:
        data = link_stage.load_link_input(writer.select)
        result = link_stage.compute_links(data)
        writer.replace_graph(str(LINKS_GRAPH), link_stage.link_triples(result))
    if progress:
        progress("links", 1, 1)
    return result.counts()
