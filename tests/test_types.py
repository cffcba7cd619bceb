"""The entity-type table (kg.model.ENTITY_KINDS) against everything that names the types."""

from pathlib import Path

from rdflib import Graph, Namespace, URIRef
from rdflib.collection import Collection
from rdflib.namespace import OWL, RDF, RDFS, SKOS

from kg.api.schema import schema
from kg.export import TYPE_COLOURS
from kg.model import ENTITY_KINDS, ENTITY_TYPES
from kg.vocab import KG

REPO = Path(__file__).resolve().parents[1]
SH = Namespace("http://www.w3.org/ns/shacl#")
SDO = Namespace("https://schema.org/")


def test_ontology_has_one_class_per_type_with_its_schema_org_mapping():
    g = Graph().parse(REPO / "schemas" / "kg.ttl", format="turtle")
    entity_classes = set(g.subjects(RDFS.subClassOf, KG.Entity))
    assert entity_classes == {URIRef(KG[k.name]) for k in ENTITY_KINDS}
    for k in ENTITY_KINDS:
        cls = KG[k.name]
        assert (cls, RDF.type, OWL.Class) in g
        mapped = set(g.objects(cls, OWL.equivalentClass)) if k.equivalent else (
            set(g.objects(cls, RDFS.subClassOf)) | set(g.objects(cls, SKOS.closeMatch)))
        assert {SDO[c] for c in k.schema_org} <= mapped, k.name


def test_shapes_allow_exactly_the_table_types():
    g = Graph().parse(REPO / "schemas" / "shapes.ttl", format="turtle")
    lists = [Collection(g, o) for s, o in g.subject_objects(SH["in"])
             if (s, SH.path, RDF.type) in g]
    assert len(lists) == 1
    assert set(lists[0]) == {KG.Entity} | {URIRef(KG[t]) for t in ENTITY_TYPES}


def test_graphql_enum_and_object_types_follow_the_table():
    sdl = str(schema)
    enum = sdl.split("enum EntityType {", 1)[1].split("}", 1)[0].split()
    assert enum == [k.enum for k in ENTITY_KINDS]
    for k in ENTITY_KINDS:
        assert f"type {k.name} implements Entity" in sdl


def test_every_type_has_a_distinct_colour_in_exports_and_viewer():
    colours = [TYPE_COLOURS[t] for t in (*ENTITY_TYPES, "Source")]
    assert len(set(c.lower() for c in colours)) == len(colours)
    viewer = (REPO / "kg" / "viz" / "viewer.html").read_text(encoding="utf-8")
    assert "Object.keys(DATA.colours)" in viewer  # the viewer's legend comes from the same table
