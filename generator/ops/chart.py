"""Daily egress this month against the free allowance's pace: terminal bars, SVG and PNG.

The pace is the allowance spread evenly over the month (10 TB / 31 days = 322.6 GB a day):
a day above the pace line eats into the allowance faster than it refills.  The SVG is
built with ``xml.etree`` (a serializer, not text); the PNG is drawn in memory and written
with ``zlib`` + ``struct`` (RFC 2083 chunks), so no imaging library is needed.

>>> sparkline([0, 1, 2, 4])
'▁▂▄█'
>>> png_size(bars_png([1.0, 2.0], 1.5, 31)[:24])
(640, 240)
"""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

from generator.core.errors import FlowstackError, PackageError
from generator.core.files import write_file

# Each chart says it is flowstack's (a PNG text chunk, an SVG attribute): `--plot` replaces
# only a picture that carries the mark, never one another program made.
PNG_MARK = b"Software\x00flowstack status --plot"
SVG_MARK = ("data-generator", "flowstack status --plot")
_BLOCKS = "▁▂▃▄▅▆▇█"
WIDTH, HEIGHT, MARGIN = 640, 240, 30
BAR, OVER, PACE, AXIS, BACK = (0x3B, 0x82, 0xF6), (0xEF, 0x44, 0x44), (0x10, 0x10, 0x10), (0x99, 0x99, 0x99), (0xFF, 0xFF, 0xFF)


def sparkline(values: list[float]) -> str:
    top = max(values, default=0.0) or 1.0
    return "".join(_BLOCKS[min(len(_BLOCKS) - 1, int(v / top * (len(_BLOCKS) - 1) + 0.5))] for v in values)


def terminal_bars(daily_gb: list[float], pace_gb: float, width: int = 40) -> list[str]:
    """One line per day: a bar scaled to the larger of the busiest day and the pace, ``|`` at the pace."""
    top = max([*daily_gb, pace_gb, 1e-9])
    mark = min(width - 1, int(pace_gb / top * width))
    lines = []
    for day, gb in enumerate(daily_gb, start=1):
        n = int(round(gb / top * width))
        cells = ["█" if i < n else " " for i in range(width)]
        cells[mark] = "┃" if cells[mark] == " " else "╋"
        flag = " over pace" if gb > pace_gb else ""
        lines.append(f"  {day:2d} {''.join(cells)} {gb:9.1f} GB{flag}")
    return lines


def _geometry(daily_gb: list[float], pace_gb: float, days: int) -> tuple[float, float, float]:
    """(top value, plot width per day, plot height) of the picture."""
    top = max([*daily_gb, pace_gb, 1e-9]) * 1.1
    return top, (WIDTH - 2 * MARGIN) / max(days, 1), HEIGHT - 2 * MARGIN


def bars_svg(daily_gb: list[float], pace_gb: float, days: int, title: str = "Outbound GB per day") -> bytes:
    top, step, plot_h = _geometry(daily_gb, pace_gb, days)
    svg = ET.Element("svg", {"xmlns": "http://www.w3.org/2000/svg", "width": str(WIDTH), "height": str(HEIGHT),
                             "viewBox": f"0 0 {WIDTH} {HEIGHT}", SVG_MARK[0]: SVG_MARK[1]})
    ET.SubElement(svg, "title").text = title
    ET.SubElement(svg, "rect", x="0", y="0", width=str(WIDTH), height=str(HEIGHT), fill="#ffffff")
    base = HEIGHT - MARGIN
    for i, gb in enumerate(daily_gb):
        h = gb / top * plot_h
        color = "#ef4444" if gb > pace_gb else "#3b82f6"
        rect = ET.SubElement(svg, "rect", x=f"{MARGIN + i * step + 1:.1f}", y=f"{base - h:.1f}", width=f"{max(step - 2, 1):.1f}",
                             height=f"{h:.1f}", fill=color)
        ET.SubElement(rect, "title").text = f"day {i + 1}: {gb:.1f} GB"
    y = base - pace_gb / top * plot_h
    ET.SubElement(svg, "line", {"x1": str(MARGIN), "x2": str(WIDTH - MARGIN), "y1": f"{y:.1f}", "y2": f"{y:.1f}", "stroke": "#111111",
                                "stroke-dasharray": "6 4", "stroke-width": "1.5"})
    ET.SubElement(svg, "line", x1=str(MARGIN), x2=str(WIDTH - MARGIN), y1=str(base), y2=str(base), stroke="#999999")
    label = ET.SubElement(svg, "text", {"x": str(MARGIN), "y": "18", "font-family": "sans-serif", "font-size": "13"})
    label.text = f"{title} (dashed: free allowance pace {pace_gb:.1f} GB/day)"
    return ET.tostring(svg, encoding="utf-8", xml_declaration=True)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def bars_png(daily_gb: list[float], pace_gb: float, days: int) -> bytes:
    """The same chart as `bars_svg`, without text, as an 8-bit RGB PNG."""
    top, step, plot_h = _geometry(daily_gb, pace_gb, days)
    pixels = [bytearray(BACK * WIDTH) for _ in range(HEIGHT)]

    def fill(x0: int, y0: int, x1: int, y1: int, color: tuple[int, int, int]) -> None:
        for y in range(max(y0, 0), min(y1, HEIGHT)):
            row = pixels[y]
            for x in range(max(x0, 0), min(x1, WIDTH)):
                row[3 * x:3 * x + 3] = bytes(color)

    base = HEIGHT - MARGIN
    for i, gb in enumerate(daily_gb):
        h = int(round(gb / top * plot_h))
        x0 = int(MARGIN + i * step + 1)
        fill(x0, base - h, x0 + max(int(step) - 2, 1), base, OVER if gb > pace_gb else BAR)
    fill(MARGIN, base, WIDTH - MARGIN, base + 1, AXIS)
    y = int(round(base - pace_gb / top * plot_h))
    for x in range(MARGIN, WIDTH - MARGIN, 10):  # dashed
        fill(x, y - 1, x + 6, y + 1, PACE)
    raw = b"".join(b"\x00" + bytes(row) for row in pixels)
    header = struct.pack(">IIBBBBB", WIDTH, HEIGHT, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"tEXt", PNG_MARK) + _chunk(b"IDAT", zlib.compress(raw, 9))
            + _chunk(b"IEND", b""))


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def check_plot_path(path: str) -> Path:
    """``path`` if it ends in .png or .svg and its directory exists; `FlowstackError` otherwise."""
    target = Path(path)
    if target.suffix.lower() not in (".png", ".svg"):
        raise FlowstackError(f"--plot: {path!r} must end in .png or .svg (did you mean {target.with_suffix('.png').name}?)")
    if not target.parent.is_dir():
        raise FlowstackError(f"--plot: directory {target.parent} does not exist; create it or pick another path")
    return target


def is_own_chart(head: bytes) -> bool:
    """True for the first bytes of a chart `write_plot` wrote (its PNG text chunk or SVG attribute)."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return b"tEXt" + PNG_MARK in head[:128]
    return f'{SVG_MARK[0]}="{SVG_MARK[1]}"'.encode() in head


def write_plot(path: str, daily_gb: list[float], pace_gb: float, days: int) -> Path:
    """Write ``path`` (.png or .svg) through the one atomic writer; an existing file must be a
    chart flowstack wrote. `FlowstackError` for another suffix or a file it may not replace."""
    target = check_plot_path(path)
    data = bars_png(daily_gb, pace_gb, days) if target.suffix.lower() == ".png" else bars_svg(daily_gb, pace_gb, days)
    try:
        return write_file(data, target, replaces=is_own_chart)
    except PackageError as exc:
        raise FlowstackError(f"--plot: {exc}") from None
