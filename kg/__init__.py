"""kg: a knowledge graph from a folder of Markdown notes."""

__version__ = "0.1.0"
