"""The pieces of a self-contained HTML page: escaped text, images as data: URIs, tables that
sort when a header is clicked, sliders that scrub through frames; one inline style and script,
and a content security policy that lets the page load nothing from anywhere."""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: nothing but the page itself: inline style and script, images from data: URIs
POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 1.5em auto; max-width: 1100px;
       padding: 0 1em; color: #1b1b1b; background: #fff; }
h1, h2, h3 { line-height: 1.2; } h2 { border-top: 2px solid #ddd; padding-top: .6em; }
table { border-collapse: collapse; margin: .5em 0 1em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.sortable th { cursor: pointer; background: #f1f1f1; user-select: none; }
table.sortable th[aria-sort=ascending]::after { content: " \\25B2"; }
table.sortable th[aria-sort=descending]::after { content: " \\25BC"; }
.scrubber { display: grid; grid-template-columns: 12em 1fr; gap: .3em 1em;
            align-items: center; margin: .8em 0; }
.scrubber img { grid-column: 2; image-rendering: pixelated; max-width: 100%; }
.scrubber input, .scrubber span { grid-column: 2; }
.scrubber input { width: min(100%, 32em); }
.caption { color: #555; font-size: 90%; }
img.plot { max-width: 100%; }
pre { background: #f6f6f6; padding: .8em; overflow-x: auto; font-size: 85%; }
"""

SCRIPT = """
"use strict";
document.querySelectorAll("input.scrub").forEach(function (slider) {
  var frames = JSON.parse(document.getElementById(slider.dataset.frames).textContent);
  var image = document.getElementById(slider.dataset.image);
  var label = document.getElementById(slider.dataset.label);
  slider.addEventListener("input", function () {
    var frame = frames[slider.valueAsNumber];
    image.src = frame.src;
    label.textContent = frame.label;
  });
});
function sortKey(row, column) {
  var cell = row.cells[column];
  if (!cell || cell.textContent.trim() === "") { return null; }
  var value = cell.dataset.sort;
  return value === undefined ? cell.textContent.trim() : Number(value);
}
function compareKeys(a, b) {
  if (typeof a === "number" && typeof b === "number") { return a - b; }
  return String(a).localeCompare(String(b), undefined, {numeric: true});
}
document.querySelectorAll("table.sortable th").forEach(function (header) {
  header.addEventListener("click", function () {
    var table = header.closest("table");
    var body = table.tBodies[0];
    var column = header.cellIndex;
    var sign = header.getAttribute("aria-sort") === "ascending" ? -1 : 1;
    table.querySelectorAll("th").forEach(function (h) { h.removeAttribute("aria-sort"); });
    header.setAttribute("aria-sort", sign > 0 ? "ascending" : "descending");
    var rows = Array.from(body.rows);
    rows.sort(function (r, s) {
      var a = sortKey(r, column), b = sortKey(s, column);
      if (a === null || b === null) { return (a === null) - (b === null); }
      return sign * compareKeys(a, b);
    });
    rows.forEach(function (row) { body.appendChild(row); });
  });
});
"""


def esc(text: object) -> str:
    """Text (anything, as str) safe inside an element or a quoted attribute."""
    return html.escape(str(text), quote=True)


def png_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def array_uri(pixels: np.ndarray) -> str:
    """uint8 pixels (height × width × channels) as a PNG data: URI, at zlib's default level:
    PIL's `optimize` made the PNGs 12% smaller at 18× the time (a Cat(196) code's 196 frames
    of 128×128 images took 26 of a 2-iteration run's 41 seconds)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return png_uri(buffer.getvalue())


def figure_uri(fig: Figure, dpi: int = 100) -> str:
    """A matplotlib figure as a PNG data: URI; the figure is closed."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    return png_uri(buffer.getvalue())


def image(uri: str, alt: str, css: str = "plot") -> str:
    return f'<img class="{esc(css)}" src="{esc(uri)}" alt="{esc(alt)}">'


@dataclass(frozen=True)
class Cell:
    """A table cell: its text, and the number it sorts by (text sorts as text)."""

    text: str
    number: float | None = None
    link: str | None = None  # an anchor on the page, e.g. "#run-1"

    @classmethod
    def of(cls, value: object, digits: int = 3) -> Cell:
        """A whole number, a number shown with `digits` decimals (sorting by its full value),
        or text."""
        if isinstance(value, int) and not isinstance(value, bool):
            return cls(str(value), float(value))
        if isinstance(value, float):
            return cls(f"{value:.{digits}f}", value)
        return cls("" if value is None else str(value))

    def html(self) -> str:
        text = esc(self.text)
        if self.link is not None:
            text = f'<a href="{esc(self.link)}">{text}</a>'
        if self.number is None:
            return f"<td>{text}</td>"
        return f'<td class="num" data-sort="{self.number!r}">{text}</td>'


def table(headers: Sequence[str], rows: Sequence[Sequence[Cell]], sortable: bool = False) -> str:
    """A table; a sortable one reorders its rows by the column whose header is clicked."""
    css = ' class="sortable"' if sortable else ""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(c.html() for c in row) + "</tr>" for row in rows)
    return f"<table{css}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def script_json(data: object) -> str:
    """JSON that cannot end the <script> element holding it."""
    text = json.dumps(data)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def png_width(data: bytes) -> int:
    """A PNG's width in pixels, from its header."""
    return int.from_bytes(data[16:20], "big")


def scrubber(
    key: str, title: str, frames: Sequence[tuple[str, str]], start: int, width: int
) -> str:
    """A slider that shows one frame at a time (`width` CSS pixels wide): `frames` holds
    (data: URI, label) pairs."""
    uri, label = frames[start]
    key = esc(key)
    data = script_json([{"src": s, "label": text} for s, text in frames])
    return (
        f'<div class="scrubber"><strong>{esc(title)}</strong>'
        f'<img id="{key}-image" src="{esc(uri)}" width="{width}" alt="{esc(title)}">'
        f'<input type="range" class="scrub" min="0" max="{len(frames) - 1}" value="{start}" '
        f'aria-label="{esc(title)}" data-frames="{key}-frames" data-image="{key}-image" '
        f'data-label="{key}-label">'
        f'<span class="caption" id="{key}-label">{esc(label)}</span>'
        f'<script type="application/json" id="{key}-frames">{data}</script></div>'
    )


def page(title: str, body: Sequence[str]) -> str:
    """The whole document; non-ASCII text as character references, so any reader decodes it."""
    document = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head>\n<body>\n"
        + "\n".join(body)
        + f"\n<script>{SCRIPT}</script>\n</body></html>\n"
    )
    return document.encode("ascii", "xmlcharrefreplace").decode("ascii")
