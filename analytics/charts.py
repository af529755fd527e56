"""Server-rendered SVG charts for the admin dashboard: geometry computed here, drawn by the
template. No JavaScript and no third-party assets: the chart is plain SVG that prints, scales and
reads without a network."""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass, field
from decimal import Decimal

# Okabe-Ito: distinguishable with the common colour-vision deficiencies; grey is "other".
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")
OTHER_COLOUR = "#999999"
OTHER = "other models"


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    title: str


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True)
class LegendItem:
    colour: str
    name: str
    total: str


@dataclass
class StackedBarChart:
    """A stacked bar chart laid out in SVG user units (``viewBox="0 0 width height"``)."""

    width: int
    height: int
    left: int
    top: int
    plot_width: float
    plot_height: float
    bars: list[Bar] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    legend: list[LegendItem] = field(default_factory=list)
    summary: str = ""

    @property
    def bottom(self) -> float:
        return self.top + self.plot_height

    @property
    def right(self) -> float:
        return self.left + self.plot_width


def nice_step(maximum: float, ticks: int = 5) -> float:
    """A round tick step (1, 2 or 5 x 10ⁿ) giving about ``ticks`` ticks up to ``maximum``."""
    if maximum <= 0:
        return 1.0
    raw = maximum / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    for multiple in (1, 2, 5, 10):
        if raw <= multiple * magnitude:
            return multiple * magnitude
    return 10 * magnitude


def _money(value: float) -> str:
    if value == 0:
        return "$0"
    if value >= 100:
        return f"${value:,.0f}"
    if value >= 1:
        return f"${value:,.2f}"
    return f"${value:.4f}".rstrip("0")


def cost_per_day_chart(
    rows: list[dict],
    *,
    date_from: datetime.date,
    date_to: datetime.date,
    max_series: int = len(PALETTE),
    width: int = 960,
    height: int = 340,
) -> StackedBarChart:
    """Cost per UTC day, one stacked segment per model (the ``max_series`` costliest models by
    name, the rest as "other models"). ``rows`` are the cost report's rows grouped by day and
    model (``day``, ``model``, ``cost_usd``)."""
    days = [date_from + datetime.timedelta(days=n) for n in range((date_to - date_from).days + 1)]
    per_model: dict[str, Decimal] = {}
    cells: dict[tuple[datetime.date, str], Decimal] = {}
    for row in rows:
        day = datetime.date.fromisoformat(row["day"])
        model = row["model"] or "(unknown model)"
        cost = Decimal(row["cost_usd"])
        per_model[model] = per_model.get(model, Decimal(0)) + cost
        cells[(day, model)] = cells.get((day, model), Decimal(0)) + cost
    ranked = sorted(per_model, key=lambda name: (-per_model[name], name))
    shown = ranked[:max_series] if len(ranked) <= max_series else ranked[: max_series - 1]
    colours = {name: PALETTE[index % len(PALETTE)] for index, name in enumerate(shown)}
    series = [*shown, *([OTHER] if len(ranked) > len(shown) else [])]
    colours[OTHER] = OTHER_COLOUR

    def cost_of(day: datetime.date, name: str) -> Decimal:
        if name != OTHER:
            return cells.get((day, name), Decimal(0))
        return sum(
            (cells.get((day, other), Decimal(0)) for other in ranked if other not in shown), Decimal(0)
        )

    totals = {day: sum((cost_of(day, name) for name in series), Decimal(0)) for day in days}
    peak = float(max(totals.values(), default=Decimal(0)))
    step = nice_step(peak)
    top_value = max(step, math.ceil(peak / step) * step) if peak else step

    chart = StackedBarChart(
        width=width, height=height, left=72, top=12, plot_width=width - 72 - 16, plot_height=height - 12 - 44
    )
    slot = chart.plot_width / max(len(days), 1)
    bar_width = max(slot * 0.72, 1.0)
    scale = chart.plot_height / top_value
    for index, day in enumerate(days):
        x = chart.left + index * slot + (slot - bar_width) / 2
        y = chart.bottom
        for name in series:
            value = cost_of(day, name)
            if not value:
                continue
            bar_height = float(value) * scale
            y -= bar_height
            chart.bars.append(
                Bar(
                    x=round(x, 2),
                    y=round(y, 2),
                    width=round(bar_width, 2),
                    height=round(max(bar_height, 0.5), 2),
                    colour=colours[name],
                    title=f"{day.isoformat()} · {name}: {_money(float(value))}",
                )
            )
    label_every = max(1, math.ceil(len(days) / 12))
    chart.x_ticks = [
        Tick(round(chart.left + index * slot + slot / 2, 2), day.strftime("%b %d"))
        for index, day in enumerate(days)
        if index % label_every == 0
    ]
    value = 0.0
    while value <= top_value + step / 2:
        chart.y_ticks.append(Tick(round(chart.bottom - value * scale, 2), _money(value)))
        value += step
    chart.legend = [
        LegendItem(
            colour=colours[name],
            name=name,
            total=_money(float(sum((cost_of(day, name) for day in days), Decimal(0)))),
        )
        for name in series
    ]
    total = sum(totals.values(), Decimal(0))
    chart.summary = (
        f"Cost per day from {date_from.isoformat()} to {date_to.isoformat()}: {_money(float(total))} in "
        f"total across {len(ranked)} model(s); the costliest day cost {_money(peak)}."
    )
    return chart
