"""login sessions: one row per browser's login, so logout ends only that browser's session

Revision ID: b7e4c1a9d203
Revises: 5a1f0c2d9e77
Create Date: 2026-12-02 09:00:00

"""
import sqlalchemy as sa
from alembic import op


revision = "b7e4c1a9d203"
down_revision = "5a1f0c2d9e77"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "login_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("developer_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "(developer_id IS NULL) <> (user_id IS NULL)",
            name=op.f("ck_login_sessions_one_account"),
        ),
        sa.ForeignKeyConstraint(
            ["developer_id"],
            ["developers.id"],
            name=op.f("fk_login_sessions_developer_id_developers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_login_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_sessions")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_login_sessions_key_hash")),
    )
    with op.batch_alter_table("login_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_login_sessions_developer_id"), ["developer_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_login_sessions_user_id"), ["user_id"], unique=False)


def downgrade():
    with op.batch_alter_table("login_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_sessions_user_id"))
        batch_op.drop_index(batch_op.f("ix_login_sessions_developer_id"))
    op.drop_table("login_sessions")
