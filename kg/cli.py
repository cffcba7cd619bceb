"""The ``kg`` command: thin typer wrappers over plain functions.

Only this module (and the HTTP layer) turns :class:`kg.errors.KGError` into
messages and exit codes: 0 success, 1 some notes failed (the rest was built),
2 the command could not be carried out.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from kg.errors import KGError
from kg.export.formats import RDF, VIEW, export_format, names_text

__all__ = ["app", "main"]

app = typer.Typer(
    name="kg",
    help="A knowledge graph from your notes: build it, query it (SPARQL, GraphQL), export it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

StoreOpt = Annotated[str, typer.Option("--store", "-s", help="Store folder (or SPARQL endpoint URL).",
                                       envvar="KG_STORE")]


def _printable(text: str) -> str:
    """Text safe to write to a terminal: control characters (escape sequences) and bytes that are not UTF-8
    shown escaped, never sent raw."""
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() or c == "\n" else c.encode("unicode_escape").decode("ascii") for c in text)


def _err(message: str) -> None:
    typer.echo(f"kg: {_printable(message)}", err=True)


def _fail(err: KGError, code: int = 2) -> typer.Exit:
    _err(f"error: {err}")
    return typer.Exit(code)


def _read_arg(value: str) -> str:
    """``@file`` reads the file; ``-`` reads standard input; anything else is the text itself."""
    if value == "-":
        return sys.stdin.read()
    if value.startswith("@"):
        try:
            return Path(value[1:]).read_text(encoding="utf-8")
        except OSError as err:
            raise KGError(f"cannot read the query file ({err.strerror}); check the path", path=value[1:]) from None
    return value


class _Progress:
    """A rich progress bar on a terminal for builds of more than a few notes; silence otherwise."""

    def __init__(self, enabled: bool):
        self.enabled = enabled and sys.stderr.isatty()
        self._bar = None
        self._tasks: dict[str, int] = {}

    def __enter__(self):
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(TextColumn("{task.description:>8}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), transient=True, console=None)
            self._bar.__enter__()
        return self

    def __call__(self, phase: str, done: int, total: int) -> None:
        if self._bar is None or total < 4 and phase != "links":
            return
        if phase not in self._tasks:
            self._tasks[phase] = self._bar.add_task(phase, total=total)
        self._bar.update(self._tasks[phase], completed=done, total=total)

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.__exit__(*exc)


@app.command()
def build(
    paths: Annotated[list[Path], typer.Argument(help="Note files or folders (read recursively).")],
    store: StoreOpt = ".kg",
    model: Annotated[Optional[str], typer.Option(help="An installed trained spaCy pipeline whose NER to add.")] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Processes for extraction (0: one per core).")] = 0,
    force: Annotated[bool, typer.Option(help="Rebuild every note, changed or not.")] = False,
    no_extract: Annotated[bool, typer.Option("--no-extract", help="Only the note structure, no entities.")] = False,
    no_links: Annotated[bool, typer.Option("--no-links", help="Skip the link pass.")] = False,
    follow_symlinks: Annotated[bool, typer.Option(
        "--follow-symlinks", help="Read links that point outside the notes folder (skipped by default).")] = False,
    note_seconds: Annotated[float, typer.Option(
        help="Seconds the extraction of one note may take (0: no limit); past it the note gets no entities.")] = 600,
    note_memory_mb: Annotated[float, typer.Option(
        help="MiB one note's extraction may grow a process by (0: no limit).")] = 2048,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Build or update the graph of PATHS in the store (unchanged notes are skipped)."""
    from kg.extract.limits import NoteLimits
    from kg.pipeline import build as run_build

    limits = NoteLimits(seconds=note_seconds if note_seconds > 0 else None,
                        memory_mb=note_memory_mb if note_memory_mb > 0 else None)

    n_process = jobs if jobs > 0 else max(1, min(2, os.cpu_count() or 1))
    try:
        with _Progress(enabled=not as_json) as progress:
            report = run_build([str(p) for p in paths], store, model=model, extract=not no_extract,
                               links=not no_links, n_process=n_process, force=force, progress=progress,
                               follow_symlinks=follow_symlinks, limits=limits)
    except KGError as err:
        raise _fail(err) from None
    for problem in report.problems:
        _err(f"error: {problem}")
    for warning in report.warnings:
        _err(f"warning: {warning}")
    for skipped in report.skipped:
        _err(f"skipped {skipped}")
    for path in report.kept_on_error:
        _err(f"kept the last good graph of {path}")
    if as_json:
        typer.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    elif report.nothing_to_do:
        typer.echo(f"{report.store}: up to date ({report.unchanged} notes unchanged, {report.seconds:.2f} s)")
    else:
        typer.echo(
            f"{report.store}: {len(report.added)} added, {len(report.changed)} changed, {len(report.removed)} removed, "
            f"{report.unchanged} unchanged; {report.characters:,} characters in {report.seconds:.2f} s"
            + (f"; links: {', '.join(f'{k} {v}' for k, v in report.links.items())}" if report.links else ""))
    if report.problems:
        _err(f"{len(report.problems)} problem(s); the other notes were built")
        raise typer.Exit(1)


@app.command()
def stats(
    store: StoreOpt = ".kg",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Counts by class and by note."""
    from kg.stats import compute_stats
    from kg.store import open_store

    try:
        s = compute_stats(open_store(store))
    except KGError as err:
        raise _fail(err) from None
    if as_json:
        typer.echo(json.dumps(s.as_dict(), ensure_ascii=False, indent=2))
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console()
    # headings as lines of their own: a table's title wraps at the table's width
    console.print(f"[bold]{store}[/bold]: generation {s.generation}, {s.triples:,} triples", highlight=False)
    t = Table()
    t.add_column("class")
    t.add_column("count", justify="right")
    for k, v in s.by_class.items():
        t.add_row(k, f"{v:,}")
    console.print(t)
    console.print("[bold]by note[/bold]")
    t = Table()
    for col in ("path", "sections", "sources", "mentions", "entities"):
        t.add_column(col, justify="left" if col == "path" else "right")
    for row in s.by_note:  # a note's name is shown as text: no markup, no escape sequences
        t.add_row(*(Text(_printable(str(row[c]))) for c in ("path", "sections", "sources", "mentions", "entities")))
    console.print(t)


@app.command()
def sparql(
    query: Annotated[str, typer.Argument(help="A SPARQL query, @file.rq, or - for standard input.")],
    store: StoreOpt = ".kg",
    fmt: Annotated[str, typer.Option("--format", "-f", help="json|csv|tsv|xml (SELECT/ASK), turtle|nt|jsonld (CONSTRUCT).")] = "json",
) -> None:
    """Run a read-only SPARQL query against the store (a folder: in a process without network)."""
    from kg.store import QUAD_FORMATS, RDF_FORMATS, RESULT_FORMATS, check_read_only_query, open_store

    fmt = {"turtle": "ttl"}.get(fmt, fmt)
    try:
        text = _read_arg(query)
        if store.startswith(("http://", "https://")):
            body, _ = open_store(store).query_bytes(text, fmt)
        else:
            from kg.api.sparql_process import run_isolated

            if fmt not in RESULT_FORMATS and fmt not in RDF_FORMATS:
                raise KGError(f"unknown format {fmt!r}; use one of {', '.join([*RESULT_FORMATS, 'turtle', 'nt', 'jsonld'])}")
            check_read_only_query(text)
            open_store(store)  # a missing or damaged store is told here, before a worker starts
            result_fmt, rdf_fmt = (fmt, "ttl") if fmt in RESULT_FORMATS else (
                "json", "ttl" if fmt in QUAD_FORMATS else fmt)
            body = run_isolated(store, text, result_fmt, rdf_fmt, memory_mb=_half_the_memory()).body
    except KGError as err:
        raise _fail(err) from None
    sys.stdout.buffer.write(body)
    if not body.endswith(b"\n"):
        sys.stdout.buffer.write(b"\n")


def _half_the_memory() -> int:
    """Half the machine's memory in MiB: what one query may take before it is stopped (0 if unknown)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**21
    except (ValueError, OSError, AttributeError):
        return 0


@app.command(help=f"Dump the graph in an RDF format, or a view of its entities: {names_text(VIEW, '|')}.")
def export(
    store: StoreOpt = ".kg",
    fmt: Annotated[str, typer.Option("--format", "-f", help=f"RDF: {names_text(RDF, '|')}; views: {names_text(VIEW, '|')}.")] = "ttl",
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="File to write (default: standard output).")] = None,
    note: Annotated[Optional[str], typer.Option(help="Only this note's graph (its path).")] = None,
    types: Annotated[Optional[list[str]], typer.Option("--type", help="Views: keep these node types (Person, ..., Source); repeat or comma-separate.")] = None,
    community: Annotated[Optional[list[int]], typer.Option(help="Views: keep these communities.")] = None,
    centre: Annotated[Optional[str], typer.Option("--centre", "--center", help="Views: only what lies near this entity (name, alias, Type/name or IRI).")] = None,
    radius: Annotated[int, typer.Option(help="Views: hops from --centre.")] = 1,
    min_weight: Annotated[float, typer.Option("--min-weight", help="Views: drop lighter edges.")] = 0.0,
    max_nodes: Annotated[Optional[int], typer.Option("--max-nodes", help="Views: keep the N most central nodes (html: 2000 unless set).")] = None,
    drop_isolated: Annotated[bool, typer.Option("--drop-isolated", help="Views: drop nodes without edges.")] = False,
) -> None:
    from kg.store import open_store
    from kg.vocab import note_graph

    try:
        if export_format(fmt).kind == RDF:
            body = open_store(store).dump(fmt, str(note_graph(note)) if note else None)
        else:
            from kg.export import export_view, parse_filter

            filters = parse_filter({"type": types, "community": community, "centre": centre, "radius": radius,
                                    "min_weight": min_weight, "max_nodes": max_nodes, "drop_isolated": drop_isolated})
            body, _ = export_view(open_store(store).select, fmt, filters)
    except KGError as err:
        raise _fail(err) from None
    if output is None:
        sys.stdout.buffer.write(body)
    else:
        output.write_bytes(body)
        _err(f"wrote {len(body):,} bytes to {output}")


@app.command(name="eval")
def evaluate(
    gold: Annotated[Path, typer.Argument(help="Gold file (JSON): the entities a careful reader finds, by type.")],
    store: StoreOpt = ".kg",
    as_json: Annotated[bool, typer.Option("--json")] = False,
    details: Annotated[bool, typer.Option(help="List the false positives and the missed entities.")] = False,
) -> None:
    """Precision, recall and F1 per entity type against a hand-made gold file: distinct entity strings per
    note, summed; for each half (dev, test) and language of the gold apart."""
    from dataclasses import replace

    from kg.errors import EvalError
    from kg.evaluate import evaluate_halves, load_gold
    from kg.stats import list_entities
    from kg.store import open_store

    try:
        g = load_gold(gold)
        by_name = {p.rsplit("/", 1)[-1]: p for p in g.notes}

        def gold_key(path: str) -> str | None:  # a store's note matches a gold note by path or by file name
            return path if path in g.by_note else by_name.get(path.rsplit("/", 1)[-1])

        st = open_store(store)
        found: dict[str, list] = {}
        for t, name, aliases, notes in list_entities(st):
            for n in notes:
                key = gold_key(n)
                if key is not None:
                    found.setdefault(key, []).append((t, name, aliases))
        built = {gold_key(r["p"]) for r in st.select("SELECT DISTINCT ?p WHERE { ?n a kg:Note ; kg:path ?p }")}
        held = [n for n in g.notes if n in built]
        if not held:
            raise EvalError(f"none of the {len(g.notes)} notes of {gold} is in the store {store} (e.g. "
                            f"{g.notes[0] if g.notes else '-'}); build them first, or give the gold of the notes "
                            "you built")
        if len(held) < len(g.notes):
            absent = sorted(set(g.notes) - set(held))
            _err(f"note: {len(absent)} of the {len(g.notes)} notes of {gold} are not in this store (e.g. "
                 f"{absent[0]}); scored on the {len(held)} it holds")
            g = replace(g, notes=tuple(held), by_note={n: g.by_note[n] for n in held})
        reports = evaluate_halves(found, g)
    except KGError as err:
        raise _fail(err) from None
    if as_json:
        out = {f"{split}/{lang}": {
            "scores": {sc.type: {"precision": round(sc.precision, 4), "recall": round(sc.recall, 4),
                                 "f1": round(sc.f1, 4), "predicted": sc.predicted, "gold": sc.gold}
                       for sc in r.scores},
            "false_positives": r.false_positives, "missed": r.false_negatives} for (split, lang), r in reports.items()}
        typer.echo(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        for (split, lang), r in reports.items():
            n = sum(1 for x in g.by_note.values() if (x.split or "all", x.lang or "all") == (split, lang))
            if (split, lang) != ("all", "all"):
                typer.echo(f"{split} half, {lang}, {n} notes")
            typer.echo(r.format(details=details) + "\n")


@app.command()
def train(
    gold: Annotated[Optional[list[Path]], typer.Argument(
        help="Gold files to learn from (default: the dev half of tests/gold/annotated.json and tests/gold/gold.json).")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Folder to write the model to (default: the one kg ships).")] = None,
    split: Annotated[str, typer.Option(help="Which half of a version 2 gold file to learn from.")] = "dev",
    cross_validate: Annotated[int, typer.Option(
        "--cross-validate", help="Instead of training, score K-fold cross-validation on those notes.")] = 0,
    details: Annotated[bool, typer.Option(help="With --cross-validate: list false positives and misses.")] = False,
) -> None:
    """Train the entity tagger from gold files (never from their test half)."""
    from kg.evaluate import evaluate_halves, load_gold
    from kg.extract.tagger_model import default_model_dir
    from kg.extract.training import cross_validate as run_cv, read_gold_notes, train_tagger

    if split == "test":
        raise _fail(KGError("the test half is for measuring, never for training; use --split dev"))
    files = gold or [Path("tests/gold/annotated.json"), Path("tests/gold/gold.json")]
    try:
        notes = [n for f in files for n in read_gold_notes(f, split)]
        if cross_validate:
            _err(f"{cross_validate}-fold cross-validation on {len(notes)} notes of {', '.join(map(str, files))} ...")
            found = run_cv(notes, cross_validate)
            for f in files:
                g = load_gold(f)
                for (half, lang), r in evaluate_halves(found, g).items():
                    if half in (split, "all"):
                        typer.echo(f"{f}: {half} half, {lang}, cross-validated\n{r.format(details=details)}\n")
            return
        _err(f"training on {len(notes)} notes of {', '.join(map(str, files))} ...")
        report = train_tagger(notes, out or default_model_dir(), sources=[str(f) for f in files])
    except KGError as err:
        raise _fail(err) from None
    counts = ", ".join(f"{k[2:]} {v:,}" for k, v in sorted(report.labels.items()))
    typer.echo(f"trained on {report.notes} notes, {report.sequences:,} sentences ({counts}); "
               f"model {report.digest} in {report.model_dir}")


@app.command()
def serve(
    store: StoreOpt = ".kg",
    host: Annotated[str, typer.Option(help="Address to listen on (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    production: Annotated[bool, typer.Option("--production", help="No GraphiQL IDE, no introspection.")] = False,
    cors_origin: Annotated[Optional[list[str]], typer.Option("--cors-origin", help="Allow this origin (CORS); repeatable.")] = None,
    sparql_timeout: Annotated[float, typer.Option(help="Seconds a SPARQL query may run before it is stopped.")] = 10.0,
    sparql_workers: Annotated[int, typer.Option(help="Worker processes answering /sparql.")] = 2,
    sparql_memory_mb: Annotated[int, typer.Option(help="Memory (MiB) each SPARQL worker may use.")] = 1024,
    allow_host: Annotated[Optional[list[str]], typer.Option(
        "--allow-host", help="Also answer requests for this Host name (loopback names always); repeatable; * for any.")] = None,
) -> None:
    """Serve the graph over HTTP: / (the front page), /graphql (with GraphiQL), /sparql (with an editor), /viz,
    /dump.{ttl,nt,nq,trig,jsonld}, /export/{format}, /healthz.  Exit 2 when the store or the port cannot be had."""
    from kg.api.app import create_app
    from kg.api.serving import run

    hosts = list(allow_host or ())
    if host not in ("0.0.0.0", "::", ""):
        hosts.append(host)  # the address it listens on is a name clients may use
    try:
        web = create_app(store, production=production, cors_origins=tuple(cors_origin or ()),
                         allowed_hosts=tuple(hosts), sparql_timeout=sparql_timeout, sparql_workers=sparql_workers,
                         sparql_memory_mb=sparql_memory_mb)
        sock = _listen(host, port)
    except KGError as err:
        raise _fail(err) from None
    shown = f"[{host}]" if ":" in host else host
    _err(f"serving {store} on http://{shown}:{port}/ (GraphQL at /graphql, SPARQL at /sparql, the viewer at /viz)")
    # stopped by Ctrl-C or SIGTERM, it has done what was asked: exit 0 (uvicorn re-raises the signal it caught)
    signal.signal(signal.SIGTERM, _stopped)
    try:
        run(web, host=host, port=port, sockets=[sock])
    except (KeyboardInterrupt, _Stopped):
        pass



class _Stopped(Exception):
    pass


def _stopped(signum: int, frame: object) -> None:
    raise _Stopped


def _listen(host: str, port: int):
    """A socket bound to ``host:port`` and listening, or a KGError that says why not (a busy port, say)."""
    import errno
    import socket

    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except socket.gaierror as err:
        raise KGError(f"cannot listen on {host}:{port}: the address does not resolve ({err.strerror}); "
                      "give --host an address of this machine") from None
    # IPPROTO_TCP named: asyncio sets TCP_NODELAY only on sockets that say so (without it every response
    # waits ~40 ms for the client's delayed ACK)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as err:
        sock.close()
        if err.errno == errno.EADDRINUSE:
            raise KGError(f"port {port} on {host} is in use (another kg serve?); stop it or give another "
                          "--port") from None
        raise KGError(f"cannot listen on {host}:{port} ({err.strerror}); give another --host or --port") from None
    return sock


@app.command()
def query(
    text: Annotated[str, typer.Argument(metavar="QUERY", help="A GraphQL query, @file.graphql, or - for standard input.")],
    store: StoreOpt = ".kg",
    var: Annotated[Optional[list[str]], typer.Option("--var", help="A variable: name=value (JSON or text); repeatable.")] = None,
) -> None:
    """Run a GraphQL query in-process and print the JSON response (exit 2 when it has errors)."""
    import logging

    from kg.api.query import parse_var, run_query

    logging.getLogger("strawberry.execution").setLevel(logging.CRITICAL)
    try:
        variables = dict(parse_var(v) for v in (var or ()))
        result = run_query(store, _read_arg(text), variables)
    except KGError as err:
        raise _fail(err) from None
    typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
    if result.get("errors"):
        raise typer.Exit(2)


def main() -> None:
    try:
        app()
    except KGError as err:  # a stray one from a command: still a clean message
        _err(f"error: {err}")
        sys.exit(2)


if __name__ == "__main__":
    main()
