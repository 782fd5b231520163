"""Train the default models and set up developers' environments (idempotent).

    python model_initialization.py                 # train missing/outdated defaults, print their
                                                   # metrics, repair every active developer
    python model_initialization.py --developer 3   # set up (or repair) one developer

A thin script over the services: every function here is one call into app.services, so the app
does exactly the same work when a developer's account becomes active.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import click

from app import create_app
from app.schema import Company, Developer, Model
from app.services import environment, registry
from app.services.catalog import KIND_NAMES, METRIC_KEYS
from app.services.registry import default_models


def load_model_metadata(kind: str) -> dict[str, Any]:
    """The `_metadata.pkl` of a default model: model_type, metrics and the extra keys."""
    return default_models.default_model_metadata(kind)


def check_existing_models() -> dict[str, str]:
    """Each default model's state: "current", or why it must be (re)trained."""
    return {kind: default_models.default_model_state(kind) for kind in KIND_NAMES}


def register_model_in_db(company: Company, kind: str) -> Model:
    """Register (or refresh) one default model for `company` (no commit)."""
    return registry.register_model_in_db(
        company,
        kind,
        registry.storage.default_model_path(kind),
        load_model_metadata(kind),
        default_models.default_model_checksum(kind),
        is_default=True,
    )


def initialize_default_models(
    sample_rows: int | None = None,
) -> list[default_models.DefaultModelStatus]:
    """Train every default model whose file is missing or outdated, showing progress."""
    return environment.ensure_default_models(progress=click.echo, sample_rows=sample_rows)


def get_model_metrics(company: Company | None = None) -> dict[str, dict[str, float]]:
    """Metrics by model: a company's registered models, or the default model files'."""
    if company is not None:
        return registry.get_model_metrics(company)
    return {name: load_model_metadata(kind)["metrics"] for kind, name in KIND_NAMES.items()}


def initialize_original_dataset(company: Company):
    """Register DatasetA.csv as the root of `company`'s lineage (no commit)."""
    return environment.initialize_original_dataset(company)


def initialize_developer_environment(developer_id: int) -> Developer:
    """Folders, original data set, default models and deployments for one developer."""
    developer = environment.developer_by_id(developer_id)
    initialize_default_models()
    environment.initialize_developer_environment(developer)
    return developer


def metrics_table(metrics: dict[str, dict[str, float]]) -> str:
    names = METRIC_KEYS
    lines = [f"{'Model':<22}" + "".join(f"{name:>10}" for name in names)]
    for label, values in metrics.items():
        lines.append(
            f"{label:<22}" + "".join(f"{values.get(n, float('nan')):>10.4f}" for n in names)
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--developer", type=int, help="set up only this developer's environment")
    args = parser.parse_args(argv)
    app = create_app(os.environ.get("APP_ENV", "development"))
    with app.app_context():
        try:
            if args.developer is not None:
                developer = initialize_developer_environment(args.developer)
                click.echo(f"Environment ready for {developer.name} ({developer.company.name}).")
                return 0
            dataset = Path(app.config["ORIGINAL_DATASET"])
            click.echo(f"Checking the default models (training data: {dataset})…")
            statuses = initialize_default_models()
            trained = sum(status.trained for status in statuses)
            click.echo(f"{trained} model(s) trained, {len(statuses) - trained} already up to date.")
            click.echo(metrics_table(get_model_metrics()))
            developers = environment.repair_all_environments()
            click.echo(f"Environments checked for {len(developers)} active developer(s).")
        except environment.EnvironmentError_ as error:
            click.echo(f"Error: {error}", err=True)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
