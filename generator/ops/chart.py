"""Daily egress this month against the free allowance's pace: terminal bars, SVG and PNG.

The pace is the allowance spread evenly over the month (10 TB / 31 days = 322.6 GB a day):
a day above the pace line eats into the allowance faster than it refills.  The SVG is
built with ``xml.etree`` (a serializer, not text); the PNG is drawn in memory and written
with ``zlib`` + ``struct`` (RFC 2083 chunks), so no imaging library is needed.

>>> sparkline([0, 1, 2, 4])
'▁▂▄█'
>>> png_size(bars_png([1.0, 2.0], 1.5, 31)[:24])
(800, 420)
"""

from __future__ import annotations

import math
import struct
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

from generator.core.errors import FlowstackError, PackageError
from generator.core.files import write_file

from .pngfont import draw_text, text_width

# Each chart says it is flowstack's (a PNG text chunk, an SVG attribute): `--plot` replaces
# only a picture that carries the mark, never one another program made.
PNG_MARK = b"Software\x00flowstack status --plot"
SVG_MARK = ("data-generator", "flowstack status --plot")

_BLOCKS = "▁▂▃▄▅▆▇█"
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


WIDTH, HEIGHT = 800, 420
LEFT, RIGHT, TOP, BOTTOM = 90, 30, 100, 70
PROJECTED, GRID, TEXT = (0xCB, 0xD5, 0xE1), (0xE5, 0xE7, 0xEB), (0x11, 0x11, 0x11)


class _Layout:
    """Where everything goes, shared by the SVG and the PNG so both show the same chart.

    The plot area spans LEFT..WIDTH-RIGHT and TOP..HEIGHT-BOTTOM. Days after the last one
    with data are the projection: the month so far's mean per day, drawn as pale bars.
    """

    def __init__(self, daily_gb: list[float], pace_gb: float, days: int, month: str) -> None:
        self.daily, self.pace, self.days, self.month = daily_gb, pace_gb, max(days, 1), month
        self.mean = sum(daily_gb) / len(daily_gb) if daily_gb else 0.0
        self.projected = [self.mean] * max(self.days - len(daily_gb), 0)
        top = max([*daily_gb, pace_gb, self.mean, 1e-9]) * 1.15
        self.step_gb = _nice_step(top / 5)
        self.top = self.step_gb * max(1, -(-top // self.step_gb))
        self.plot_w, self.plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
        self.base = HEIGHT - BOTTOM

    def x(self, day: int) -> float:  # left edge of day ``day`` (1-based)
        return LEFT + (day - 1) * self.plot_w / self.days

    def y(self, gb: float) -> float:
        return self.base - gb / self.top * self.plot_h

    def bar_w(self) -> float:
        return max(self.plot_w / self.days - 2, 1)

    def y_ticks(self) -> list[float]:
        return [self.step_gb * i for i in range(int(round(self.top / self.step_gb)) + 1)]

    def x_ticks(self) -> list[int]:
        return sorted({1, *(d for d in range(5, self.days + 1, 5) if self.days - d >= 3), self.days})

    def title(self) -> str:
        return f"Outbound traffic per day{', ' + self.month if self.month else ''}"

    def pace_label(self) -> str:
        return f"free allowance pace {self.pace:.1f} GB/day"

    def projection_label(self) -> str:
        return f"projected: {self.mean:.1f} GB/day" if self.projected else ""

    def legend(self) -> str:
        return "blue: under the pace; red: over it" + (f"; pale: {self.projection_label()}" if self.projected else "")


def _nice_step(raw: float) -> float:
    """1, 2 or 5 times a power of ten, at least ``raw``."""
    power = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def _gb(value: float) -> str:
    return f"{value:g} GB" if value < 10_000 else f"{value / 1000:g} TB"


def bars_svg(daily_gb: list[float], pace_gb: float, days: int, month: str = "") -> bytes:
    """The chart as SVG: title, labelled axes (GB per day, day of month), the pace line and the projection labelled."""
    lay = _Layout(daily_gb, pace_gb, days, month)
    svg = ET.Element("svg", {"xmlns": "http://www.w3.org/2000/svg", "width": str(WIDTH), "height": str(HEIGHT),
                             "viewBox": f"0 0 {WIDTH} {HEIGHT}", SVG_MARK[0]: SVG_MARK[1]})
    ET.SubElement(svg, "title").text = lay.title()
    ET.SubElement(svg, "rect", x="0", y="0", width=str(WIDTH), height=str(HEIGHT), fill="#ffffff")

    def text(x: float, y: float, value: str, size: int = 13, anchor: str = "start", **extra: str) -> None:
        ET.SubElement(svg, "text", {"x": f"{x:.1f}", "y": f"{y:.1f}", "font-family": "sans-serif", "font-size": str(size),
                                    "text-anchor": anchor, "fill": "#111111", **extra}).text = value

    text(10, 28, lay.title(), 20, **{"font-weight": "bold"})
    for gb in lay.y_ticks():
        ET.SubElement(svg, "line", x1=str(LEFT), x2=str(WIDTH - RIGHT), y1=f"{lay.y(gb):.1f}", y2=f"{lay.y(gb):.1f}", stroke="#e5e7eb")
        text(LEFT - 8, lay.y(gb) + 4, _gb(gb), 12, "end")
    for i, gb in enumerate(daily_gb, start=1):
        ET.SubElement(svg, "rect", x=f"{lay.x(i) + 1:.1f}", y=f"{lay.y(gb):.1f}", width=f"{lay.bar_w():.1f}",
                      height=f"{lay.base - lay.y(gb):.1f}", fill="#ef4444" if gb > pace_gb else "#3b82f6")
        ET.SubElement(svg[-1], "title").text = f"day {i}: {gb:.1f} GB"
    for i, gb in enumerate(lay.projected, start=len(daily_gb) + 1):
        ET.SubElement(svg, "rect", {"x": f"{lay.x(i) + 1:.1f}", "y": f"{lay.y(gb):.1f}", "width": f"{lay.bar_w():.1f}",
                                    "height": f"{lay.base - lay.y(gb):.1f}", "fill": "#cbd5e1", "class": "projection"})
    py = lay.y(pace_gb)
    ET.SubElement(svg, "line", {"x1": str(LEFT), "x2": str(WIDTH - RIGHT), "y1": f"{py:.1f}", "y2": f"{py:.1f}", "stroke": "#111111",
                                "stroke-dasharray": "6 4", "stroke-width": "1.5"})
    text(WIDTH - RIGHT, py - 6, lay.pace_label(), 12, "end")
    ET.SubElement(svg, "line", x1=str(LEFT), x2=str(WIDTH - RIGHT), y1=str(lay.base), y2=str(lay.base), stroke="#111111")
    ET.SubElement(svg, "line", x1=str(LEFT), x2=str(LEFT), y1=str(TOP), y2=str(lay.base), stroke="#111111")
    for day in lay.x_ticks():
        text(lay.x(day) + lay.plot_w / lay.days / 2, lay.base + 18, str(day), 12, "middle")
    text(LEFT + lay.plot_w / 2, HEIGHT - 22, f"day of month{' (' + month + ', UTC)' if month else ' (UTC)'}", 13, "middle")
    text(22, TOP + lay.plot_h / 2, "outbound GB per day", 13, "middle", transform=f"rotate(-90 22 {TOP + lay.plot_h / 2:.1f})")
    text(10, 54, lay.legend(), 13)
    if lay.projected:
        text(lay.x(len(daily_gb) + 1), lay.y(lay.mean) - 6, "projection", 12, **{"class": "projection-label"})
    return ET.tostring(svg, encoding="utf-8", xml_declaration=True)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def bars_png(daily_gb: list[float], pace_gb: float, days: int, month: str = "") -> bytes:
    """The same chart as `bars_svg`, text included (a 5x7 bitmap font, `pngfont`), as an 8-bit RGB PNG."""
    lay = _Layout(daily_gb, pace_gb, days, month)
    pixels = [bytearray(BACK * WIDTH) for _ in range(HEIGHT)]

    def fill(x0: float, y0: float, x1: float, y1: float, color: tuple[int, int, int]) -> None:
        for y in range(max(int(round(y0)), 0), min(int(round(y1)), HEIGHT)):
            pixels[y][3 * max(int(x0), 0):3 * min(int(x1), WIDTH)] = bytes(color) * (min(int(x1), WIDTH) - max(int(x0), 0))

    def text(x: float, y: float, value: str, scale: int = 2, anchor: str = "start") -> None:
        w = text_width(value, scale)
        left = x - w if anchor == "end" else x - w / 2 if anchor == "middle" else x
        draw_text(pixels, int(left), int(y), value, TEXT, scale)

    text(10, 12, lay.title(), 3)
    for gb in lay.y_ticks():
        fill(LEFT, lay.y(gb), WIDTH - RIGHT, lay.y(gb) + 1, GRID)
        text(LEFT - 8, lay.y(gb) - 7, _gb(gb), 2, "end")
    for i, gb in enumerate(daily_gb, start=1):
        fill(lay.x(i) + 1, lay.y(gb), lay.x(i) + 1 + lay.bar_w(), lay.base, OVER if gb > pace_gb else BAR)
    for i, gb in enumerate(lay.projected, start=len(daily_gb) + 1):
        fill(lay.x(i) + 1, lay.y(gb), lay.x(i) + 1 + lay.bar_w(), lay.base, PROJECTED)
    py = lay.y(pace_gb)
    for x in range(LEFT, WIDTH - RIGHT, 10):  # dashed
        fill(x, py - 1, x + 6, py + 1, PACE)
    text(WIDTH - RIGHT, py - 20, lay.pace_label(), 2, "end")
    fill(LEFT, lay.base, WIDTH - RIGHT, lay.base + 2, PACE)
    fill(LEFT - 1, TOP, LEFT + 1, lay.base, PACE)
    for day in lay.x_ticks():
        text(lay.x(day) + lay.plot_w / lay.days / 2, lay.base + 8, str(day), 2, "middle")
    text(LEFT + lay.plot_w / 2, HEIGHT - 34, f"day of month{' (' + month + ', UTC)' if month else ' (UTC)'}", 2, "middle")
    text(10, TOP - 32, "outbound GB per day", 2)
    text(10, 44, lay.legend(), 2)
    if lay.projected:
        text(lay.x(len(daily_gb) + 1), lay.y(lay.mean) - 20, "projection", 2)
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


def write_plot(path: str, daily_gb: list[float], pace_gb: float, days: int, month: str = "") -> Path:
    """Write ``path`` (.png or .svg) through the one atomic writer; an existing file must be a
    chart flowstack wrote. `FlowstackError` for another suffix or a file it may not replace."""
    target = check_plot_path(path)
    draw = bars_png if target.suffix.lower() == ".png" else bars_svg
    data = draw(daily_gb, pace_gb, days, month)
    try:
        return write_file(data, target, replaces=is_own_chart)
    except PackageError as exc:
        raise FlowstackError(f"--plot: {exc}") from None
