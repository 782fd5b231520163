"""decision costs on companies: customer value, offer and contact cost, acceptance rate

Revision ID: d3c1a7e5b911
Revises: b7c41d9e2f30
Create Date: 2026-12-01 21:00:00

Plain nullable columns, added in place on every database (SQLite included: no table rebuild, so
rows that point at companies are never touched). The costs are validated by the service that
saves them (app.services.decisions.costs).
"""
from alembic import op
import sqlalchemy as sa


revision = "d3c1a7e5b911"
down_revision = "b7c41d9e2f30"
branch_labels = None
depends_on = None

COLUMNS = ("customer_value", "offer_cost", "contact_cost", "acceptance_rate")


def upgrade():
    for name in COLUMNS:
        op.add_column("companies", sa.Column(name, sa.Float(), nullable=True))
    op.add_column("companies", sa.Column("costs_updated_at", sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table("companies", schema=None) as batch_op:
        batch_op.drop_column("costs_updated_at")
        for name in reversed(COLUMNS):
            batch_op.drop_column(name)
