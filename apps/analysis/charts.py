"""The report's charts: PNG files drawn with matplotlib's object API (no GUI backend)."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

BAR = "#3b6ea8"


def _save(figure: Figure, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    return path


def _empty(axes, message: str) -> None:
    axes.text(0.5, 0.5, message, ha="center", va="center", fontsize=14)
    axes.set_axis_off()


def ranked_bars(labels: list[str], values: list[float], *, title: str, xlabel: str,
                empty: str, path: Path) -> Path:
    """Horizontal bars, the first label on top."""
    figure = Figure(figsize=(7, 0.45 * max(len(labels), 4) + 1.2))
    axes = figure.subplots()
    if not labels:
        _empty(axes, empty)
    else:
        axes.barh(labels[::-1], values[::-1], color=BAR)
        for y, value in enumerate(values[::-1]):
            axes.annotate(f"{value:,}", (value, y), xytext=(3, 0), textcoords="offset points",
                          va="center", fontsize=9)
        axes.set_xlabel(xlabel)
        axes.margins(x=0.15)
    axes.set_title(title)
    return _save(figure, path)


def top_products(rows: list[tuple], path: Path, top: int = 10) -> Path:
    """rows: (rank, product_id, units, revenue, orders), best first."""
    best = rows[:top]
    return ranked_bars([r[1] for r in best], [int(r[2]) for r in best],
                       title=f"Top {top} products by units sold", xlabel="units",
                       empty="no purchases yet", path=path)


def payment_types(rows: list[tuple], path: Path) -> Path:
    """rows: (payment_type, orders, share), most preferred first."""
    figure = Figure(figsize=(7, 4))
    axes = figure.subplots()
    if not rows:
        _empty(axes, "no orders yet")
    else:
        labels = [f"{r[0]} ({float(r[2]):.1%})" for r in rows]
        axes.barh(labels[::-1], [int(r[1]) for r in rows][::-1], color=BAR)
        axes.set_xlabel("orders")
    axes.set_title("Orders by payment type")
    return _save(figure, path)


def top_repeat(rows: list[tuple], path: Path) -> Path:
    """rows: (rank, product_id, repeat_customers, repeat_orders, repeat_units)."""
    return ranked_bars([r[1] for r in rows], [int(r[2]) for r in rows],
                       title="Products bought again: customers with 2+ orders",
                       xlabel="customers", empty="no product bought in 2+ orders yet",
                       path=path)
