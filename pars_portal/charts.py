"""The geometry of the dashboards' charts, drawn as inline SVG by the templates (no
JavaScript, no image): every bar segment links to the records it counts."""

import datetime as dt

from participants.models import Completion

from .links import records_url

STATUSES = [
    Completion.Status.SUBMITTED,
    Completion.Status.ACCEPTED,
    Completion.Status.REJECTED,
    Completion.Status.DELETED,
]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
# Bar colours of the chart (Bootstrap's palette), in STATUSES order.
COLOURS = {
    Completion.Status.SUBMITTED: "#0d6efd",
    Completion.Status.ACCEPTED: "#198754",
    Completion.Status.REJECTED: "#dc3545",
    Completion.Status.DELETED: "#adb5bd",
}


def month_chart(by_month, year, link, *, width=720, height=220, pad_left=44, pad_bottom=24,
            pad_top=8):  # fmt: skip
    """Geometry of a stacked bar chart of records per month (rendered as inline SVG)."""
    peak = max([sum(m.values()) for m in by_month] + [1])
    step = _nice_step(peak)
    top = step * -(-peak // step)
    plot_h = height - pad_bottom - pad_top
    slot = (width - pad_left) / 12
    bar_w = slot * 0.7
    bars = []
    for index, counts in enumerate(by_month):
        x = pad_left + index * slot + (slot - bar_w) / 2
        y = height - pad_bottom
        segments, cells = [], []
        start = dt.date(year, index + 1, 1)
        end = (start + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
        for status in STATUSES:
            n = counts.get(status, 0)
            url = records_url(**link, status=status, date_from=start.isoformat(),
                              date_to=end.isoformat())  # fmt: skip
            cells.append({"label": status.label, "count": n, "url": url})
            if not n:
                continue
            h = n / top * plot_h
            y -= h
            segments.append({
                "x": round(x, 1), "y": round(y, 1), "w": round(bar_w, 1), "h": round(h, 1),
                "colour": COLOURS[status], "count": n, "label": status.label, "url": url,
            })  # fmt: skip
        bars.append({
            "month": MONTHS[index], "label_x": round(pad_left + (index + 0.5) * slot, 1),
            "total": sum(counts.values()), "segments": segments,
            "cells": cells,  # every status, for the table the chart also is
        })  # fmt: skip
    ticks = [
        {"value": v, "y": round(height - pad_bottom - v / top * plot_h, 1)}
        for v in range(0, top + 1, step)
    ]
    return {
        "width": width, "height": height, "bars": bars, "ticks": ticks,
        "axis_x": pad_left, "axis_y": height - pad_bottom, "label_y": height - 6,
        "legend": [{"label": s.label, "colour": COLOURS[s]} for s in STATUSES],
        "statuses": [s.label for s in STATUSES],
    }  # fmt: skip


def _nice_step(peak: int) -> int:
    """A round tick step giving 2–5 gridlines up to `peak`."""
    magnitude = 10 ** max(len(str(peak)) - 1, 0)
    for factor in (1, 2, 5, 10):
        if peak / (factor * magnitude) <= 5:
            return factor * magnitude
    return 10 * magnitude
