"""The offline viewer in headless Chromium (Debian's ``chromium``): it renders, searches, shows evidence,
expands neighbourhoods and fetches nothing.  Screenshots go to ``tests/artifacts/``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kg.export import TYPE_COLOURS, ViewFilter, export_view
from kg.store import EmbeddedStore
from kg.viz.browser import Chromium, find_chromium
from kg.viz.demo import write_demo_store

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"

pytestmark = pytest.mark.skipif(
    find_chromium() is None,
    reason="headless Chromium is not installed (apt-get install -y chromium; .ci/run installs it when missing)")

# pixels of a type's colour on the node layer of the cytoscape canvas
_COUNT_COLOUR = """
(() => {
  const [r, g, b] = %s;
  let n = 0;
  for (const c of document.querySelectorAll('#cy canvas')) {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    for (let i = 0; i < d.length; i += 4)
      if (Math.abs(d[i] - r) < 6 && Math.abs(d[i+1] - g) < 6 && Math.abs(d[i+2] - b) < 6 && d[i+3] > 200) n++;
  }
  return n;
})()
"""


@pytest.fixture(scope="module")
def browser():
    with Chromium(width=1400, height=900) as b:
        yield b


@pytest.fixture(scope="module")
def demo_html(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("viewer")
    write_demo_store(root / "store")
    body, _ = export_view(EmbeddedStore(root / "store").select, "html")
    page = root / "viewer.html"
    page.write_bytes(body)
    return page


def _open(browser, page_file: Path, fragment: str = ""):
    page = browser.new_page()
    page.goto(page_file.as_uri() + fragment)
    page.wait_for("document.body.dataset.ready === '1'", timeout=20)
    return page


def _type(page, text: str, enter: bool = True) -> None:
    page.eval("document.getElementById('search').focus()")
    page.send("Input.insertText", {"text": text})
    if enter:
        for kind in ("keyDown", "keyUp"):
            page.send("Input.dispatchKeyEvent", {"type": kind, "key": "Enter", "code": "Enter",
                                                 "windowsVirtualKeyCode": 13, "nativeVirtualKeyCode": 13})


def _click_node(page, name: str) -> None:
    page.eval("document.getElementById('search').blur(); document.getElementById('search-results').replaceChildren();"
              "kg.cy.stop(); kg.fit(kg.cy.nodes()); null")
    pos = page.eval(f"""(() => {{
        const n = kg.cy.nodes().filter(e => e.data('label') === {json.dumps(name)})[0];
        const p = n.renderedPosition(), box = document.getElementById('cy').getBoundingClientRect();
        return [box.left + p.x, box.top + p.y]; }})()""")
    for kind in ("mousePressed", "mouseReleased"):
        page.send("Input.dispatchMouseEvent", {"type": kind, "x": pos[0], "y": pos[1], "button": "left",
                                               "clickCount": 1})


def test_nodes_render_and_nothing_is_fetched(browser, demo_html):
    page = _open(browser, demo_html)
    assert page.eval("kg.cy.nodes().length") == 15
    assert page.eval("kg.cy.edges().length") > 0
    # every node inside the visible canvas, and drawn: the Person colour is on the canvas
    inside = page.eval("""(() => { const w = kg.cy.width(), h = kg.cy.height();
        return kg.cy.nodes().every(n => { const p = n.renderedPosition(); return p.x >= 0 && p.y >= 0 && p.x <= w && p.y <= h; }); })()""")
    assert inside
    person = TYPE_COLOURS["Person"]
    assert page.eval(_COUNT_COLOUR % json.dumps([int(person[i:i + 2], 16) for i in (1, 3, 5)])) > 500
    page.screenshot(ARTIFACTS / "viewer-demo.png")
    assert page.requests() == [demo_html.as_uri()], "the viewer fetched something besides its own file"
    assert page.errors() == []


def test_search_finds_kita_ikki_and_shows_his_evidence(browser, demo_html):
    page = _open(browser, demo_html)
    _type(page, "北一辉")
    page.wait_for("document.body.dataset.selected === '北一辉'", timeout=5)
    assert page.eval("kg.cy.$(':selected').data('label')") == "北一辉"
    panel = page.eval("document.getElementById('panel').innerText")
    assert "北一辉" in panel and "Person" in panel and "北辉次郎" in panel
    marks = page.eval("Array.from(document.querySelectorAll('#panel mark')).map(m => m.textContent)")
    assert marks and set(marks) <= {"北一辉", "北辉次郎"}
    assert "二二六兵变" in panel  # a linked entity
    page.screenshot(ARTIFACTS / "viewer-search-北一辉.png")
    # the drop-down lists hits while typing; an alias finds him too
    page.eval("document.getElementById('search').value = ''")
    _type(page, "北辉次郎", enter=False)
    hits = page.eval("Array.from(document.querySelectorAll('#search-results li')).map(li => li.textContent)")
    assert hits and hits[0].startswith("北一辉")
    assert page.errors() == []


def test_search_from_the_address_and_nothing_found(browser, demo_html):
    page = _open(browser, demo_html, "#q=" + "北一辉")
    assert page.eval("document.body.dataset.selected") == "北一辉"
    page.eval("document.getElementById('search').value = ''")
    _type(page, "无此人", enter=False)
    assert page.eval("document.body.dataset.searchHits") == "0"
    assert "nothing found" in page.eval("document.getElementById('search-results').innerText")


def test_click_shows_mentions_sources_and_expands_the_neighbourhood(browser, demo_html):
    page = _open(browser, demo_html)
    # low detail: only the 3 most central nodes are drawn; search and expand bring in the rest
    page.eval("const d = document.getElementById('detail'); d.value = 3; d.dispatchEvent(new Event('input'))")
    assert page.eval("kg.cy.nodes().length") == 3
    _type(page, "Multitask Learning")
    page.wait_for("document.body.dataset.selected === 'Multitask Learning'", timeout=5)
    links = page.eval("Array.from(document.querySelectorAll('#panel a[href]')).map(a => [a.href, a.rel, a.target])")
    assert links and all(h.startswith("https://") and "noopener" in rel and t == "_blank" for h, rel, t in links)
    _click_node(page, "北一辉")
    page.wait_for("document.body.dataset.selected === '北一辉'", timeout=5)
    assert page.eval("document.querySelectorAll('#panel .ev').length") == 3  # 4 mentions in 3 sentences
    assert "000_3c3c03ef14cd1a5a.md" in page.eval("document.querySelector('#panel .ev .where').textContent")
    before = page.eval("kg.cy.nodes().length")
    page.eval("Array.from(document.querySelectorAll('#panel button')).find(b => b.textContent.startsWith('Expand')).click()")
    after = page.eval("kg.cy.nodes().map(n => n.data('label'))")
    assert len(after) > before and {"池田成彬", "二二六兵变", "日本"} <= set(after)
    page.eval("Array.from(document.querySelectorAll('#panel button')).find(b => b.textContent.startsWith('Only')).click()")
    assert page.eval("kg.cy.nodes().length") < 15
    page.screenshot(ARTIFACTS / "viewer-neighbourhood.png")
    assert page.errors() == []


def test_viewer_of_a_pipeline_build(browser, tmp_path):
    """End to end: build the sample with the real extraction and link pass, view it, search it."""
    from kg.pipeline import build

    build([str(ROOT / "samples")], tmp_path / "store", n_process=1)
    store = EmbeddedStore(tmp_path / "store")
    body, _ = export_view(store.select, "html", ViewFilter(types=("Person", "Event", "Place", "Organization", "Paper")))
    page_file = tmp_path / "viewer.html"
    page_file.write_bytes(body)
    page = _open(browser, page_file)
    shown = page.eval("kg.cy.nodes().length")
    assert shown > 10 and page.eval("kg.cy.edges().length") > 0
    page.screenshot(ARTIFACTS / "viewer-sample-build.png")
    assert page.errors() == []
    names = set(page.eval("kg.data.nodes.map(n => n.n)"))
    _type(page, "池田成彬")
    page.wait_for("document.body.dataset.selected === '池田成彬'", timeout=5)
    assert "北一辉" in names
    page.eval("document.getElementById('search').value = ''")
    _type(page, "北一辉")
    page.wait_for("document.body.dataset.selected === '北一辉'", timeout=5)


# Machado, Oliveira and Fernandes (2009), severity 1, on linear RGB: how each kind of dichromat sees a colour
_DICHROMAT = {
    "protanopia": ((0.152286, 1.052583, -0.204868), (0.114503, 0.786281, 0.099216), (-0.003882, -0.048116, 1.051998)),
    "deuteranopia": ((0.367322, 0.860646, -0.227968), (0.280085, 0.672501, 0.047413), (-0.011820, 0.042940, 0.968881)),
    "tritanopia": ((1.255528, -0.076749, -0.178779), (-0.078411, 0.930809, 0.147602), (0.004733, 0.691367, 0.303900)),
    "normal vision": ((1, 0, 0), (0, 1, 0), (0, 0, 1)),
}


def _lab(hex_colour: str, matrix) -> tuple[float, float, float]:
    """CIELAB (D65) of an sRGB colour as seen through ``matrix``."""
    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    rgb = [linear(int(hex_colour[i:i + 2], 16) / 255) for i in (1, 3, 5)]
    r, g, b = (min(1.0, max(0.0, sum(row[k] * rgb[k] for k in range(3)))) for row in matrix)
    x, y, z = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047, 0.2126 * r + 0.7152 * g + 0.0722 * b, \
        (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116

    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def test_type_colours_stay_apart_for_colour_blind_readers():
    """Every two node types differ by ΔE*ab ≥ 15 for normal vision and for each kind of dichromacy (the bug:
    Paper #6c8ead and Organization #669bbc were nearly the same)."""
    import itertools
    import math

    assert len(set(TYPE_COLOURS.values())) == len(TYPE_COLOURS)
    for kind, matrix in _DICHROMAT.items():
        for (ta, a), (tb, b) in itertools.combinations(TYPE_COLOURS.items(), 2):
            assert math.dist(_lab(a, matrix), _lab(b, matrix)) >= 15, (kind, ta, tb)
