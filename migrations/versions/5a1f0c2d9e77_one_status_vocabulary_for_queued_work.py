"""one status vocabulary for queued work: models say 'done' like predictions, CHECK on both

Revision ID: 5a1f0c2d9e77
Revises: 1c763e211b45
Create Date: 2026-12-01 09:00:00

"""
from alembic import op


revision = "5a1f0c2d9e77"
down_revision = "1c763e211b45"
branch_labels = None
depends_on = None

STATUSES = "status IN ('queued', 'running', 'done', 'failed')"


def upgrade():
    op.execute("UPDATE models SET status = 'done' WHERE status = 'ready'")
    for table in ("models", "predictions"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_check_constraint(op.f(f"ck_{table}_work_status"), STATUSES)


def downgrade():
    for table in ("models", "predictions"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(op.f(f"ck_{table}_work_status"), type_="check")
    op.execute("UPDATE models SET status = 'ready' WHERE status = 'done'")
