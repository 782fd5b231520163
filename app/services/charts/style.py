"""How the charts look: one colour per model on every chart, from the Okabe–Ito palette (safe for
the common kinds of colour blindness), the colours of the two predicted classes, and the sizes
that keep chart text as large as the page's small text at desktop and at phone width.

A model's colour depends only on what it is (its kind, and for retrained networks the version),
never on its place in a list, so "Random Forest" is the same colour on the compare chart, a model
page and the monitoring chart.
"""

from __future__ import annotations

import re

# Okabe & Ito (2008), "Color Universal Design". Yellow (#F0E442) is left out: it is too light to
# read as a line on white.
OKABE_ITO = {
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "green": "#009E73",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "black": "#000000",
}
DEFAULT_MODEL_COLORS = {
    "Decision Tree": OKABE_ITO["orange"],
    "Gradient Boosting": OKABE_ITO["sky_blue"],
    "Logistic Regression": OKABE_ITO["green"],
    "Random Forest": OKABE_ITO["purple"],
    "Neural Network": OKABE_ITO["blue"],
}
# Retrained networks v2, v3, …: the colours no default uses, then the same colours again drawn
# with another dash pattern, so no two versions look alike.
VERSION_COLORS = (OKABE_ITO["vermillion"], OKABE_ITO["black"])
VERSION_STYLES = ("-", "-.", (0, (1, 1)), (0, (5, 1, 1, 1, 1, 1)))
_VERSION_LABEL = re.compile(r"^(?P<kind>.+) v(?P<version>\d+)$")

STAY = OKABE_ITO["blue"]  # predicted to stay
CHURN = OKABE_ITO["vermillion"]  # predicted to churn
BEST = OKABE_ITO["green"]
INK = "#1d2433"
CHANCE = "#8a94a6"
UNKNOWN = "#5b6577"


def model_style(label: str) -> tuple[str, object]:
    """(colour, line style) of the model called `label` ("Random Forest", "Neural Network v3")."""
    if label in DEFAULT_MODEL_COLORS:
        return DEFAULT_MODEL_COLORS[label], "--"
    match = _VERSION_LABEL.match(label)
    if match is None:
        return UNKNOWN, "-"
    index = int(match["version"]) - 2  # v2 is the first retrained version
    if index < 0:
        return DEFAULT_MODEL_COLORS.get(match["kind"], UNKNOWN), "--"
    color = VERSION_COLORS[index % len(VERSION_COLORS)]
    style = VERSION_STYLES[(index // len(VERSION_COLORS)) % len(VERSION_STYLES)]
    return color, style


# Sizes: a chart drawn at SMALL fills a desktop `.charts` cell (about 520 CSS px) with its text at
# about 13 px; NARROW is the phone variant, drawn for about 340 CSS px at twice the resolution.
DPI = 100
SMALL = (6.0, 3.6)
WIDE = (7.0, 5.2)
NARROW = (3.6, 3.4)
NARROW_AXES_HEIGHT = 2.4  # inches; a phone variant with its legend under the axes grows below
NARROW_DPI = 2 * DPI
FONT_SIZE = 10  # points; the legend never goes below it on a phone
LEGEND_SIZE = 9  # points, at desktop size (matplotlib's "small" is 8.3)
# Fixed margins (fractions of the figure) instead of tight_layout, constrained layout or
# bbox_inches="tight": measuring every text box to fit them costs more than drawing the chart, and
# the prediction service renders its charts while scoring.
MARGINS = {"left": 0.12, "right": 0.96, "bottom": 0.14, "top": 0.9}
WIDE_LABEL_MARGINS = {**MARGINS, "left": 0.29}  # importance: labels like "InternetService"
COUNT_MARGINS = {**MARGINS, "left": 0.17}  # counts up to "1,000,000"
ROC_MARGINS = {"left": 0.1, "right": 0.96, "bottom": 0.1, "top": 0.93}
NARROW_MARGINS = {"left": 0.22, "right": 0.92, "bottom": 0.19, "top": 0.9}
NARROW_LABEL_MARGINS = {**NARROW_MARGINS, "left": 0.42}
NARROW_TALL_MARGINS = {"left": 0.2, "right": 0.94}  # bottom and top follow the legend
