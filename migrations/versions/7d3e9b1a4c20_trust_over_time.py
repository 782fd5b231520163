"""trust over time: common-holdout figures, an audited deployment record held to one live
retrained version by the database, drift and outcomes of predictions

Revision ID: 7d3e9b1a4c20
Revises: b7e4c1a9d203
Create Date: 2026-12-03 09:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = "7d3e9b1a4c20"
down_revision = "b7e4c1a9d203"
branch_labels = None
depends_on = None

WORDS = "'queued', 'running', 'done', 'failed'"


def _status_check(column: str) -> str:
    return f"{column} IS NULL OR {column} IN ({WORDS})"


def upgrade():
    # Other tables refer to `models`, so SQLite must not rebuild it (a batch copy would drop the
    # table under their foreign keys): plain ALTER TABLE ADD COLUMN, the CHECK on the column.
    op.add_column(
        "models",
        sa.Column(
            "holdout_status",
            sa.String(length=20),
            sa.CheckConstraint(
                _status_check("holdout_status"), name=op.f("ck_models_holdout_status")
            ),
            nullable=True,
        ),
    )
    op.add_column("models", sa.Column("holdout", sa.JSON(), nullable=True))

    with op.batch_alter_table("predictions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("drift", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("drifting_count", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("outcomes_status", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("outcomes", sa.JSON(), nullable=True))
        batch_op.create_check_constraint(
            op.f("ck_predictions_outcomes_status"), _status_check("outcomes_status")
        )

    with op.batch_alter_table("modeldeployments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("is_retrained", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("action", sa.String(length=20), server_default="deploy", nullable=False)
        )
        batch_op.add_column(sa.Column("reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("guard", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("withdrawn_by_developer_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("withdraw_action", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("withdraw_reason", sa.Text(), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_modeldeployments_withdrawn_by_developer_id_developers"),
            "developers",
            ["withdrawn_by_developer_id"],
            ["id"],
        )

    # Which rows are retrained versions, and repair what the deploy race left behind (several
    # active rows of one model, several live retrained versions): the newest active row wins.
    op.execute(
        "UPDATE modeldeployments SET is_retrained = "
        "(SELECT NOT models.is_default FROM models WHERE models.id = modeldeployments.model_id)"
    )
    op.execute(
        "UPDATE modeldeployments SET is_active = false, withdrawn_at = CURRENT_TIMESTAMP, "
        "withdraw_action = 'replaced' "
        "WHERE is_active AND EXISTS (SELECT 1 FROM modeldeployments AS newer "
        "WHERE newer.is_active AND newer.model_id = modeldeployments.model_id "
        "AND newer.id > modeldeployments.id)"
    )
    op.execute(
        "UPDATE modeldeployments SET is_active = false, withdrawn_at = CURRENT_TIMESTAMP, "
        "withdraw_action = 'replaced' "
        "WHERE is_active AND is_retrained AND EXISTS (SELECT 1 FROM modeldeployments AS newer "
        "WHERE newer.is_active AND newer.is_retrained "
        "AND newer.company_id = modeldeployments.company_id AND newer.id > modeldeployments.id)"
    )
    with op.batch_alter_table("modeldeployments", schema=None) as batch_op:
        batch_op.create_index(
            "uq_modeldeployments_active_model",
            ["model_id"],
            unique=True,
            sqlite_where=sa.text("is_active"),
            postgresql_where=sa.text("is_active"),
        )
        batch_op.create_index(
            "uq_modeldeployments_live_retrained",
            ["company_id"],
            unique=True,
            sqlite_where=sa.text("is_active AND is_retrained"),
            postgresql_where=sa.text("is_active AND is_retrained"),
        )


def downgrade():
    with op.batch_alter_table("modeldeployments", schema=None) as batch_op:
        batch_op.drop_index("uq_modeldeployments_live_retrained")
        batch_op.drop_index("uq_modeldeployments_active_model")
        batch_op.drop_constraint(
            op.f("fk_modeldeployments_withdrawn_by_developer_id_developers"), type_="foreignkey"
        )
        for column in (
            "withdraw_reason",
            "withdraw_action",
            "withdrawn_by_developer_id",
            "guard",
            "reason",
            "action",
            "is_retrained",
        ):
            batch_op.drop_column(column)

    with op.batch_alter_table("predictions", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_predictions_outcomes_status"), type_="check")
        for column in ("outcomes", "outcomes_status", "drifting_count", "drift"):
            batch_op.drop_column(column)

    # SQLite drops a column (and its CHECK) in place since 3.35; no rebuild of `models`.
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(op.f("ck_models_holdout_status"), "models", type_="check")
    op.drop_column("models", "holdout")
    op.drop_column("models", "holdout_status")
