"""Scales for the plots: a value's position in pixels, round tick values that fit, the axes.

Ticks are what a reader expects of a chart: multiples of 1, 2 or 5 times a power of ten on a
linear scale (whole numbers only for counts), whole powers of ten on a log scale, and the axis
ends on a tick. Of the candidate steps the densest is taken whose labels, estimated at their
font size, do not touch (at most ``most`` intervals). Tick values are computed as integer
multiples of the step and written with an explicit number of decimals (or as ``2e-9`` past six
orders of magnitude), so no float's ``repr`` ever reaches the page.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from driftmatrix.report import _palette as palette
from driftmatrix.report import _svg as svg
from driftmatrix.report import _text as text

#: Room between two tick labels, in pixels.
GAP = 10.0
_TICK = 4.0
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
_MINUS = "−"


@dataclass(frozen=True)
class Scale:
    """Values from ``low`` to ``high`` drawn from pixel ``start`` to pixel ``end``.

    Attributes:
        low: The smallest value shown (a tick).
        high: The largest value shown (a tick).
        start: Where ``low`` is drawn, in pixels (y axes run upwards: start > end).
        end: Where ``high`` is drawn.
        log: A log scale (``low`` and ``high`` are then powers of ten).
        ticks: (value, label) of each tick, in order.
    """

    low: float
    high: float
    start: float
    end: float
    log: bool
    ticks: tuple[tuple[float, str], ...]

    def __call__(self, value: float) -> float:
        """Where ``value`` is drawn, in pixels (a log scale draws values ≤ 0 at its start)."""
        if self.log:
            low, high = math.log10(self.low), math.log10(self.high)
            value = math.log10(value) if value > 0 else low
        else:
            low, high = self.low, self.high
        return self.start + (value - low) / (high - low) * (self.end - self.start)


def linear(
    low: float,
    high: float,
    pixels: tuple[float, float],
    room: Callable[[str], float],
    *,
    integer: bool = False,
    most: int = 8,
) -> Scale:
    """A linear scale covering ``low``…``high``, widened to round ticks.

    Args:
        low: The smallest value to show.
        high: The largest value to show.
        pixels: Where ``low`` and ``high`` go, (start, end) in pixels.
        room: The pixels a tick label needs along the axis, gap included.
        integer: Counts: ticks are whole numbers.
        most: The most intervals between ticks.
    """
    if high <= low:
        pad = 1.0 if integer or low == 0 else abs(low) * 0.05
        low, high = (low, low + pad) if integer else (low - pad, high + pad)
    # Differences below a billionth of the values are float noise, not something to draw.
    least = max(abs(low), abs(high)) * 1e-9
    if high - low < least:
        middle = (low + high) / 2
        low, high = middle - least / 2, middle + least / 2
    length = abs(pixels[1] - pixels[0])
    smallest = math.floor(math.log10((high - low) / most))
    candidates = [(m, e) for e in range(smallest, smallest + 4) for m in (1, 2, 5)]
    ticks, labels = [low, high], _labels([low, high], smallest)  # never used: a step fits
    for m, e in candidates:
        if integer and e < 0:
            continue
        step = m * 10.0**e
        first = math.floor(low / step + 1e-9)
        last = max(math.ceil(high / step - 1e-9), first + 1)
        if last - first > most:
            continue
        ticks = [_multiple(i, m, e) for i in range(first, last + 1)]
        labels = _labels(ticks, e)
        if max(room(label) for label in labels) <= length / max(last - first, 1):
            break
    return Scale(ticks[0], ticks[-1], *pixels, False, tuple(zip(ticks, labels, strict=True)))


def logarithmic(
    low: float,
    high: float,
    pixels: tuple[float, float],
    room: Callable[[str], float],
    *,
    most: int = 8,
) -> Scale:
    """A log scale from the power of ten at or below ``low`` to the one at or above ``high``.

    Args:
        low: The smallest value to show (> 0).
        high: The largest value to show.
        pixels: Where the ends go, (start, end) in pixels.
        room: The pixels a tick label needs along the axis, gap included.
        most: The most ticks, less one.
    """
    bottom = math.floor(math.log10(low))
    top = max(math.ceil(math.log10(high)), bottom + 1)
    length = abs(pixels[1] - pixels[0])
    for stride in (1, 2, 3, 4, 5, 10, 20, 50, 100):
        # Both ends on a tick: the decades widened to multiples of the stride.
        first, last = math.floor(bottom / stride) * stride, math.ceil(top / stride) * stride
        chosen = range(first, last + 1, stride)
        spacing = length / len(chosen[1:])
        if len(chosen) - 1 <= most and max(room(power(k)) for k in chosen) <= spacing:
            break
    ticks = tuple((10.0**k, power(k)) for k in chosen)
    return Scale(10.0**first, 10.0**last, *pixels, True, ticks)


def power(exponent: int) -> str:
    """``10⁻⁹``: a power of ten as a tick label."""
    return "10" + str(exponent).translate(_SUPERSCRIPT)


def width_room(size: float = svg.SMALL) -> Callable[[str], float]:
    """The room a label needs along an x axis: its width and a gap."""
    return lambda label: text.width(label, size) + GAP


def height_room(size: float = svg.SMALL) -> Callable[[str], float]:
    """The room a label needs along a y axis: its line height and a gap."""
    return lambda _label: size * 1.2 + GAP / 2


def x_grid(scale: Scale, top: float, bottom: float) -> list[str]:
    """Vertical grid lines at the ticks, from ``top`` to ``bottom`` (drawn under the marks)."""
    return [svg.line(scale(v), top, scale(v), bottom, palette.GRID) for v, _ in scale.ticks]


def y_grid(scale: Scale, left: float, right: float) -> list[str]:
    """Horizontal grid lines at the ticks, from ``left`` to ``right``."""
    return [svg.line(left, scale(v), right, scale(v), palette.GRID) for v, _ in scale.ticks]


def x_axis(scale: Scale, y: float, title: str) -> list[str]:
    """The axis line at ``y``, tick marks and labels under it, and its title under those."""
    out = [svg.line(scale.start, y, scale.end, y, palette.AXIS)]
    for value, label in scale.ticks:
        x = scale(value)
        out.append(svg.line(x, y, x, y + _TICK, palette.AXIS))
        out.append(svg.text(x, y + 13, label, size=svg.SMALL, anchor="middle", colour=palette.TICK))
    middle = (scale.start + scale.end) / 2
    out.append(svg.text(middle, y + 31, title, anchor="middle"))
    return out


def y_axis(scale: Scale, x: float) -> list[str]:
    """The axis line at ``x``, with tick marks and labels left of it."""
    out = [svg.line(x, scale.start, x, scale.end, palette.AXIS)]
    for value, label in scale.ticks:
        y = scale(value)
        out.append(svg.line(x - _TICK, y, x, y, palette.AXIS))
        out.append(
            svg.text(x - _TICK - 3, y, label, size=svg.SMALL, anchor="end", colour=palette.TICK)
        )
    return out


def label_width(scale: Scale) -> float:
    """The widest tick label of ``scale``, in pixels (the room a y axis takes left of it)."""
    return max((text.width(label, svg.SMALL) for _, label in scale.ticks), default=0.0)


def _multiple(index: int, mantissa: int, exponent: int) -> float:
    # Dividing by an exact power of ten gives the double nearest 0.3, where 3 * 0.1 does not.
    if exponent >= 0:
        return float(index * mantissa * 10**exponent)
    return index * mantissa / float(10**-exponent)


def _labels(values: list[float], exponent: int) -> list[str]:
    biggest = max(abs(v) for v in values)
    if biggest >= 1e6 or 0 < biggest < 1e-3:
        places = max(0, math.floor(math.log10(biggest)) - exponent)
        return [_scientific(v, places) for v in values]
    return [_signed(f"{v:.{max(0, -exponent)}f}") for v in values]


def _scientific(value: float, places: int) -> str:
    if value == 0:
        return "0"
    mantissa, exponent = f"{value:.{places}e}".split("e")
    return _signed(f"{mantissa}e{int(exponent)}")


def _signed(label: str) -> str:
    # A typographic minus, as in print; a rounded negative zero is plain zero.
    if label.startswith("-"):
        return label[1:] if set(label[1:]) <= set("0.") else _MINUS + label[1:]
    return label
