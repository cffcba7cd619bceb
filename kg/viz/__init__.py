"""The offline graph viewer: its HTML template, the vendored cytoscape.js, a headless-Chromium driver for
tests and benchmarks (:mod:`kg.viz.browser`) and a hand-made demo store (:mod:`kg.viz.demo`)."""
