"""The product's fixed vocabulary, in one place: the five model kinds, the decision threshold and
the metric names. Services, scripts and templates read them here instead of repeating them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelKind:
    key: str  # e.g. "neural_network": file names and the modeltypes table
    name: str  # e.g. "Neural Network": what people read
    description: str
    retrainable: bool = False


MODEL_KINDS: tuple[ModelKind, ...] = (
    ModelKind("decision_tree", "Decision Tree", "A single tree of yes/no questions: easy to read."),
    ModelKind("gradient_boosting", "Gradient Boosting", "Many small trees, each fixing the last."),
    ModelKind("logistic_regression", "Logistic Regression", "A linear model of churn odds."),
    ModelKind("random_forest", "Random Forest", "Many trees voting on random views of the data."),
    ModelKind("neural_network", "Neural Network", "A multi-layer perceptron; retrainable.", True),
)
KIND_NAMES: dict[str, str] = {kind.key: kind.name for kind in MODEL_KINDS}
NETWORK_KIND = "neural_network"

# A customer is predicted to churn when the model's probability is at least this.
THRESHOLD = 0.5

# The original metadata format's metrics (weighted averages; AUC on the churn probability) …
METRIC_KEYS = ("Accuracy", "AUC", "Precision", "Recall", "F1 Score")
# … and the churn-class figures and confusion counts stored beside them.
EXTRA_METRICS = ("Churn Precision", "Churn Recall")
CONFUSION_METRICS = ("True Negatives", "False Positives", "False Negatives", "True Positives")
DISPLAY_METRICS = (*METRIC_KEYS, *EXTRA_METRICS)
