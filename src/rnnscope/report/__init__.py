"""The study report: a self-contained HTML page and its figures."""

from __future__ import annotations

from .html import SECTIONS, build_report

__all__ = ["SECTIONS", "build_report"]
