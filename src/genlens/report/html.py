"""Tiny HTML building blocks for the tour (escaped text, tables, figures)."""
from __future__ import annotations

import html
from collections.abc import Sequence

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#1d232a;line-height:1.45}
h1{margin-bottom:.1em} h2{border-bottom:2px solid #e3e7ec;padding-bottom:.2em;margin-top:2em}
.sub{color:#5b6672;margin-top:0} table{border-collapse:collapse;margin:.8em 0;font-size:.92em}
th,td{border:1px solid #d9dee4;padding:.3em .6em;text-align:right} th{background:#f3f5f8}
td:first-child,th:first-child{text-align:left} figure{display:inline-block;margin:.5em 1em .5em 0;vertical-align:top}
figcaption{font-size:.85em;color:#5b6672;max-width:420px} img{image-rendering:pixelated;border:1px solid #e3e7ec}
.grid{display:flex;flex-wrap:wrap;gap:.5em} .todo{background:#fff8e6;border-left:4px solid #f0b429;padding:.5em 1em} nav a{margin-right:1em}
code{background:#f3f5f8;padding:0 .25em;border-radius:3px}
"""


def esc(text: object) -> str:
    return html.escape(str(text))


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def figure(src: str, caption: str, *, width: int | None = None) -> str:
    w = f' width="{width}"' if width else ""
    return f'<figure><img src="{esc(src)}" alt="{esc(caption)}"{w}><figcaption>{esc(caption)}</figcaption></figure>'


def no_results(what: str) -> str:
    """The note a section shows for a part that needs benchmark results when the tour was given none."""
    return (f"<p class='todo'>No benchmark results given, so {esc(what)} is not shown. From a source checkout: "
            "<code>genlens tour --results bench/results</code> (what <code>make demo</code> runs).</p>")


def section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{esc(anchor)}"><h2>{esc(title)}</h2>{body}</section>'


def page(title: str, subtitle: str, sections: Sequence[tuple[str, str, str]]) -> str:
    nav = "".join(f'<a href="#{esc(a)}">{esc(t)}</a>' for a, t, _ in sections)
    body = "".join(section(a, t, b) for a, t, b in sections)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(title)}</title><style>{CSS}</style>"
            f"</head><body><h1>{esc(title)}</h1><p class='sub'>{esc(subtitle)}</p><nav>{nav}</nav>{body}</body></html>")
