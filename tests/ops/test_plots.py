"""status --plot draws a chart a person can read (issue 22, item 5).

On f81956f the PNG was 640x240 bars with no text at all and the SVG had one title line and
no axes. Checked here: the SVG's text elements (title with the month, both axis titles,
tick labels with units and day numbers, the labelled allowance line, the marked
projection), the PNG's size and that its text regions hold dark pixels (the title, the
legend, the axis labels, the pace label), decoded from the PNG's own bytes. The chart was
also looked at (rendered and viewed while writing it).
"""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
import zlib

from generator.ops.chart import HEIGHT, LEFT, TOP, WIDTH, bars_png, bars_svg, png_size
from generator.ops.pngfont import draw_text, text_width

DAILY = [8.8, 12.1, 30.5, 410.0, 22.0, 15.2, 9.9]
NS = "{http://www.w3.org/2000/svg}"


def pixels(png: bytes) -> list[bytes]:
    """RGB rows of an 8-bit RGB PNG with filter 0 on every row (what bars_png writes)."""
    pos, idat = 8, b""
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos:pos + 4])
        if png[pos + 4:pos + 8] == b"IDAT":
            idat += png[pos + 8:pos + 8 + length]
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = 1 + WIDTH * 3
    rows = [raw[i * stride:(i + 1) * stride] for i in range(HEIGHT)]
    assert all(r[0] == 0 for r in rows)
    return [r[1:] for r in rows]


def dark(rows: list[bytes], x0: int, y0: int, x1: int, y1: int) -> int:
    """How many near-black pixels (text, lines) lie in the box."""
    return sum(1 for y in range(y0, y1) for x in range(x0, x1) if max(rows[y][3 * x:3 * x + 3]) < 80)


def test_svg_has_title_axes_units_and_labelled_lines() -> None:
    svg = ET.fromstring(bars_svg(DAILY, 322.6, 31, "December 2026"))
    assert (svg.get("width"), svg.get("height")) == (str(WIDTH), str(HEIGHT))
    texts = [t.text or "" for t in svg.iter(f"{NS}text")]
    assert "Outbound traffic per day, December 2026" in texts
    assert "outbound GB per day" in texts and "day of month (December 2026, UTC)" in texts
    assert {"0 GB", "100 GB", "400 GB"} <= set(texts)  # y ticks with their unit
    assert {"1", "5", "10", "31"} <= set(texts)  # day numbers
    assert "free allowance pace 322.6 GB/day" in texts
    assert "projection" in texts and any("projected: 72.6 GB/day" in t for t in texts)
    projected = [r for r in svg.iter(f"{NS}rect") if r.get("class") == "projection"]
    assert len(projected) == 31 - len(DAILY)
    # A month already over: no projection drawn or claimed.
    full = ET.fromstring(bars_svg([1.0] * 30, 322.6, 30, "November 2026"))
    assert not [r for r in full.iter(f"{NS}rect") if r.get("class") == "projection"]
    assert not any("projected" in (t.text or "") for t in full.iter(f"{NS}text"))


def test_png_carries_its_text_as_pixels() -> None:
    png = bars_png(DAILY, 322.6, 31, "December 2026")
    assert png_size(png) == (WIDTH, HEIGHT) == (800, 420)
    rows = pixels(png)
    title_w = text_width("Outbound traffic per day, December 2026", 3)
    assert dark(rows, 10, 12, 10 + title_w, 33) > 400  # the title, scale 3
    assert dark(rows, 10, 44, 400, 58) > 150  # the legend
    assert dark(rows, 0, TOP - 10, LEFT - 6, HEIGHT - 70) > 100  # y tick labels
    assert dark(rows, LEFT, HEIGHT - 40, WIDTH - 30, HEIGHT - 20) > 150  # x axis title
    # The check can fail: an empty strip holds no dark pixels.
    assert dark(rows, WIDTH - 25, TOP, WIDTH, TOP + 40) == 0


def test_font_draws_known_shapes() -> None:
    rows = [bytearray(b"\xff" * 3 * 20) for _ in range(10)]
    draw_text(rows, 0, 0, "1", (0, 0, 0), 1)
    drawn = ["".join("1" if rows[y][3 * x] == 0 else "0" for x in range(5)) for y in range(7)]
    assert drawn == ["00100", "01100", "00100", "00100", "00100", "00100", "01110"]
    assert text_width("abc", 2) == text_width("ABC", 2) == 34
