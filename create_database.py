"""Create or upgrade the database from the migrations and seed reference data.

Idempotent: running it again on an up-to-date database changes nothing.
Usage: python create_database.py   (DATABASE_URL selects the database; SQLite by default)
"""

import click

from app import create_app
from app.services.database import upgrade_database


def main() -> None:
    app = create_app()
    with app.app_context():
        upgrade_database()
    # Printed, not logged: the migrations reconfigure logging (alembic.ini) as they run.
    click.echo(f"Database ready: {app.config['SQLALCHEMY_DATABASE_URI'].split('@')[-1]}")


if __name__ == "__main__":
    main()
