"""decision costs on companies: customer value, offer and contact cost, acceptance rate

Revision ID: d3c1a7e5b911
Revises: 5a1f0c2d9e77
Create Date: 2026-12-01 21:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = "d3c1a7e5b911"
down_revision = "5a1f0c2d9e77"
branch_labels = None
depends_on = None

COLUMNS = ("customer_value", "offer_cost", "contact_cost", "acceptance_rate")
# All four or none, each in its range (app.schema.DECISION_COSTS_RULE).
RULE = (
    "(customer_value IS NULL AND offer_cost IS NULL AND contact_cost IS NULL"
    " AND acceptance_rate IS NULL) OR (customer_value > 0 AND offer_cost >= 0"
    " AND contact_cost >= 0 AND acceptance_rate > 0 AND acceptance_rate <= 1)"
)


def upgrade():
    with op.batch_alter_table("companies", schema=None) as batch_op:
        for name in COLUMNS:
            batch_op.add_column(sa.Column(name, sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("costs_updated_at", sa.DateTime(), nullable=True))
        batch_op.create_check_constraint(op.f("ck_companies_decision_costs"), RULE)


def downgrade():
    with op.batch_alter_table("companies", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_companies_decision_costs"), type_="check")
        batch_op.drop_column("costs_updated_at")
        for name in reversed(COLUMNS):
            batch_op.drop_column(name)
