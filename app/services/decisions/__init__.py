"""From a score to a decision, for every prediction:

- `reasons`: each input's contribution to a customer's churn probability against the model's
  training baseline (`baselines`), exact for a linear model and by substitution otherwise;
- `reason_texts`: each row's top three of them, written for a person;
- `input_checks`: the input warnings of each row (what the model could not read, and what it did);
- `costs`: the company's decision costs and the expected value of contacting a customer;
- `campaign`: risk ranks, the profit curve, the capacity question;
- `chunk`: all of it for one scored chunk, from the chunk's one encoding;
- `notes`: what a model page says about its calibration and its reasons.

The prediction service orchestrates (scoring, result files, summary); this package decides.
"""

from app.services.decisions.baselines import SOURCE_TEXT as BASELINE_TEXT
from app.services.decisions.baselines import Baseline, baseline_of
from app.services.decisions.campaign import CapacityPlan, capacity_plan, profit_curve, risk_ranks
from app.services.decisions.chunk import Decider, DecisionColumns
from app.services.decisions.costs import (
    FIELDS,
    Costs,
    InvalidCosts,
    company_costs,
    form_values,
    parse_costs,
    save_costs,
)
from app.services.decisions.notes import ModelNotes, model_notes, reason_method
from app.services.decisions.reasons import EXACT, METHOD_TEXT, REASON_COUNT, SUBSTITUTION

__all__ = [
    "BASELINE_TEXT",
    "EXACT",
    "FIELDS",
    "METHOD_TEXT",
    "REASON_COUNT",
    "SUBSTITUTION",
    "Baseline",
    "CapacityPlan",
    "Costs",
    "Decider",
    "DecisionColumns",
    "InvalidCosts",
    "ModelNotes",
    "baseline_of",
    "capacity_plan",
    "company_costs",
    "form_values",
    "model_notes",
    "parse_costs",
    "profit_curve",
    "reason_method",
    "risk_ranks",
    "save_costs",
]
