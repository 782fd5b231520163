"""Template filters and globals: numbers and dates are formatted here, not in templates."""

from __future__ import annotations

import threading
from datetime import datetime

from flask import Flask

from app.services import catalog, decisions
from app.services.charts import text as chart_text


def percent(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def metric(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def thousands(value: int | float | None) -> str:
    return "—" if value is None else f"{value:,}"


def money(value: float | None) -> str:
    """An amount in the company's currency: 1,234.50 (−12.00 for a loss)."""
    return "—" if value is None else f"{value:,.2f}".replace("-", "−")


def signed_money(value: float | None) -> str:
    return "—" if value is None else ("+" if value > 0 else "") + money(value)


def when(value: datetime | None) -> str:
    return "—" if value is None else value.strftime("%Y-%m-%d %H:%M")


def when_exact(value: datetime | None) -> str:
    """To the second, with the time zone: times are stored in UTC."""
    return "—" if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(start: datetime | None, end: datetime | None) -> str:
    """How long from `start` to `end`, for a person: "45 s", "3 min 12 s", "1 h 05 min"."""
    if start is None or end is None:
        return "—"
    seconds = max(0, round((end - start).total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def register(app: Flask) -> None:
    app.add_template_filter(percent)
    app.add_template_filter(metric)
    app.add_template_filter(thousands)
    app.add_template_filter(when)
    app.add_template_filter(when_exact)
    app.add_template_global(duration)
    app.add_template_filter(money)
    app.add_template_filter(signed_money)
    register_globals(app)


# Navigation by role: an entry appears once its endpoint exists.
NAV_LINKS = {
    "developer": [
        ("developer.models", "Models"),
        ("developer.predict", "Predict"),
        ("developer.predictions", "History"),
        ("developer.retrain", "Retrain"),
        ("developer.compare", "Compare"),
        ("developer.monitoring", "Monitoring"),
        ("developer.datasets", "Data sets"),
        ("developer.users", "Users"),
        ("developer.tokens", "API tokens"),
        ("developer.costs", "Costs"),
    ],
    "user": [
        ("user.models", "Models"),
        ("user.predict", "Predict"),
        ("user.predictions", "History"),
        ("user.costs", "Costs"),
    ],
}


def register_globals(app: Flask) -> None:
    def nav_links(role: str) -> list[tuple[str, str]]:
        return [(e, label) for e, label in NAV_LINKS.get(role, []) if e in app.view_functions]

    app.add_template_global(nav_links)
    # The product's vocabulary, so templates read it instead of repeating it.
    app.jinja_env.globals.update(
        METRIC_KEYS=catalog.METRIC_KEYS,
        DISPLAY_METRICS=catalog.DISPLAY_METRICS,
        THRESHOLD=catalog.THRESHOLD,
        REASON_METHODS=decisions.METHOD_TEXT,
        REASON_BASELINES=decisions.BASELINE_TEXT,
        chart_alt=chart_text,  # each chart's text alternative, stated in figures
    )


def precompile_templates(app: Flask) -> None:
    """Compile every page's template now (41 of them: 0.2 s), so that no first visit after a
    start waits for its page's (a result page's first view took 0.04 s longer)."""
    environment = app.jinja_env
    for name in environment.list_templates(filter_func=lambda name: name.endswith(".html")):
        environment.get_template(name)


def precompile_in_background(app: Flask) -> threading.Thread:
    """`precompile_templates` in a daemon thread: the server answers meanwhile."""
    thread = threading.Thread(
        target=precompile_templates, args=(app,), name="churnbuster-templates", daemon=True
    )
    thread.start()
    return thread
