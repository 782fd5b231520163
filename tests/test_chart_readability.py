"""Charts people can read: one fixed, colour-blind-safe colour per model on every chart, a legend
for every colour and the threshold, probabilities in percent, whole numbers on count axes, a
phone variant whose text is as large as the page's, and text alternatives that state figures."""

from __future__ import annotations

import io
import itertools
import shutil

import pandas as pd
import pytest
from matplotlib.figure import Figure
from PIL import Image
from werkzeug.datastructures import FileStorage

from app.extensions import db
from app.schema import Prediction
from app.services import charts, jobs, registry, storage
from app.services import prediction as predictions
from app.services.charts import style as chart_style
from app.services.charts import text as chart_text
from tests import factories

DEFAULTS = ["Decision Tree", "Gradient Boosting", "Logistic Regression", "Random Forest"]
NETWORKS = ["Neural Network", *(f"Neural Network v{n}" for n in range(2, 10))]


@pytest.fixture
def scored(app, user, original_dataset) -> Prediction:
    frame = pd.read_csv(original_dataset, dtype=str, keep_default_na=False).head(150)
    upload = FileStorage(stream=io.BytesIO(frame.to_csv(index=False).encode()), filename="c.csv")
    model = registry.models_for(user)[0]
    prediction = predictions.create_prediction(user, "Readable", model.id, upload)
    jobs.wait_for_idle(app)
    db.session.refresh(prediction)
    assert prediction.status == "done", prediction.error
    return prediction


@pytest.fixture
def drawn(app, monkeypatch) -> list[Figure]:
    """The figures the charts service draws from now on (the cache of charts drawn before, such
    as those drawn while scoring, is emptied so that each chart is drawn again)."""
    shutil.rmtree(storage.cache_file(charts.CHART_DIR), ignore_errors=True)
    figures: list[Figure] = []
    render = charts._render

    def keep(*args, **kwargs):
        figure = render(*args, **kwargs)
        figures.append(figure)
        return figure

    monkeypatch.setattr(charts, "_render", keep)
    return figures


def test_each_model_has_one_stable_colour_and_no_two_models_look_alike():
    styles = [chart_style.model_style(label) for label in [*DEFAULTS, *NETWORKS]]
    assert len(set(map(str, styles))) == len(styles)  # colour and dash pattern together
    assert styles == [chart_style.model_style(label) for label in [*DEFAULTS, *NETWORKS]]
    default_colours = [chart_style.model_style(label)[0] for label in [*DEFAULTS, NETWORKS[0]]]
    assert len(set(default_colours)) == 5
    okabe_ito = set(chart_style.OKABE_ITO.values())
    assert {colour for colour, _ in styles} <= okabe_ito


def test_the_distribution_names_every_colour_and_the_threshold_in_percent(app, scored, drawn):
    charts.churn_distribution_png(scored)
    (axes,) = drawn[-1].axes
    legend = [text.get_text() for text in axes.get_legend().get_texts()]
    assert legend == [
        "Predicted to stay (below 50%)",
        "Predicted to churn (50% or more)",
        "Threshold 50%",
    ]
    drawn[-1].canvas.draw()
    assert [t.get_text() for t in axes.get_xticklabels()][:3] == ["0%", "10%", "20%"]
    counts = axes.get_yticks()
    assert all(float(c).is_integer() for c in counts)
    bar_colours = {tuple(round(c, 3) for c in bar.get_facecolor()[:3]) for bar in axes.patches}
    assert len(bar_colours) <= 2


def test_a_model_keeps_its_colour_on_the_compare_and_model_charts(app, developer, drawn):
    models = registry.models_for(developer)
    charts.roc_comparison_png(models)
    charts.roc_comparison_png(models, models[2])
    colours = []
    for figure in drawn[-2:]:
        (axes,) = figure.axes
        colours.append({line.get_label(): line.get_color() for line in axes.get_lines()})
    assert colours[0] == colours[1]
    for model in models:
        label = next(k for k in colours[0] if k.startswith(model.label + " (AUC"))
        assert colours[0][label] == chart_style.model_style(model.label)[0]
    legend = [t.get_text() for t in drawn[-1].axes[0].get_legend().get_texts()]
    assert "Chance (AUC 0.5)" in legend and len(legend) == len(models) + 1


@pytest.mark.parametrize("chart", ["distribution", "importance"])
def test_the_phone_variant_is_drawn_for_the_width_with_page_sized_text(app, scored, drawn, chart):
    path = charts.prediction_chart_png(scored, chart, narrow=True)
    width, _ = Image.open(path).size
    assert width == chart_style.NARROW[0] * chart_style.NARROW_DPI  # 720 px for 360 CSS px
    (axes,) = drawn[-1].axes
    texts = [axes.title, axes.xaxis.label, *axes.get_xticklabels()]
    legend = axes.get_legend()
    if legend is not None:
        texts += legend.get_texts()
    # 10 pt on a 3.6 in figure shown about 340 CSS px wide is about 13 px: the page's small text.
    assert min(t.get_fontsize() for t in texts if t.get_text()) >= chart_style.FONT_SIZE


def test_the_prediction_page_serves_the_phone_variants_and_states_the_figures(app, user, scored):
    client = factories.log_in(app.test_client(), user)
    page = client.get(f"/user/predictions/{scored.id}").text
    assert f"/user/predictions/{scored.id}/distribution.png?size=narrow" in page
    summary = scored.summary
    alt = chart_text.distribution_alt(scored)
    assert f"{summary['rows']:,} customers: {summary['churn']:,}" in alt
    assert alt.replace("(", "&#40;") in page or alt in page
    importance = chart_text.importance_alt(scored.model)
    name, value = scored.model.top_features()[0]
    assert f"{name} {value:.3f}" in importance
    narrow = client.get(f"/user/predictions/{scored.id}/importance.png?size=narrow")
    assert (
        narrow.status_code == 200
        and narrow.data != client.get(f"/user/predictions/{scored.id}/importance.png").data
    )


def test_roc_alt_text_lists_each_models_auc(app, developer):
    models = registry.models_for(developer)
    alt = chart_text.roc_alt(models)
    for model in models:
        assert f"{model.label} AUC {model.metric('AUC'):.3f}" in alt


def test_no_two_retrained_versions_share_a_style_across_many_versions():
    labels = [f"Neural Network v{n}" for n in range(2, 2 + 8)]
    styles = [chart_style.model_style(label) for label in labels]
    assert all(a != b for a, b in itertools.combinations(map(str, styles), 2))
