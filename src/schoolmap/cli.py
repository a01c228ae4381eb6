"""Old path of :mod:`schoolmap.run.cli` (moved there; the ``schoolmap`` console script of
pyproject.toml still names ``schoolmap.cli:main``)."""

from schoolmap.run.cli import main

__all__ = ["main"]
