"""The table of export formats (kg.export.formats): what the CLI and the server offer is what it lists."""

from __future__ import annotations

import pytest

from kg.errors import ExportError
from kg.export import export_graph
from kg.export.formats import FORMATS, RDF, VIEW, export_format, listed, names_text
from kg.export.view import demo_graph
from kg.store import RDF_FORMATS


def test_rdf_formats_are_the_stores():
    for f in (f for f in FORMATS.values() if f.kind == RDF):
        assert f.name in RDF_FORMATS, f.name
        _, media, ext = RDF_FORMATS[f.name]
        assert (f.media_type, f.extension) == (media, ext), f.name
        assert f.writer_path is None


@pytest.mark.parametrize("name", [f.name for f in listed(VIEW)])
def test_every_view_format_writes_a_graph(name):
    body, media = export_graph(demo_graph(), name)
    assert media == export_format(name).media_type and len(body) > 100


def test_unknown_formats_name_the_offered_ones():
    with pytest.raises(ExportError, match="use one of ttl, nt, nq, trig, jsonld, graphml, gexf"):
        export_format("png")
    with pytest.raises(ExportError, match=f"use one of {names_text(VIEW)}$"):
        export_format("ttl", VIEW)
    assert not FORMATS["turtle"].listed and FORMATS["turtle"].extension == "ttl"


def test_the_cli_and_the_server_offer_what_the_table_lists():
    from typer.testing import CliRunner

    from kg.api.app import DUMP_EXTS
    from kg.cli import app
    from kg.web.pages import DUMP_FORMATS, EXPORT_FORMATS

    assert DUMP_EXTS == DUMP_FORMATS == tuple(f.name for f in listed(RDF))
    assert EXPORT_FORMATS == tuple(f.name for f in listed(VIEW))
    help_text = " ".join(CliRunner().invoke(app, ["export", "--help"], terminal_width=200).output.split())
    assert names_text(VIEW, "|") in help_text and names_text(RDF, "|") in help_text
