"""Markdown -> one HTML page (a report's index.html), by a real renderer: markdown-it-py, CommonMark with tables.

Must not import matplotlib, torch or devices.
"""

from __future__ import annotations

import html

from markdown_it import MarkdownIt

STYLE = (
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}img{max-width:100%}"
)


def to_html(markdown: str, title: str) -> str:
    """The same Markdown rendered by markdown-it-py (CommonMark, with GitHub tables): real <table> elements,
    <strong> for **bold**, code blocks kept as code."""
    body = MarkdownIt("commonmark").enable("table").render(markdown)
    return (
        f"<!doctype html>\n<html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head>\n<body>\n{body}</body></html>\n"
    )
