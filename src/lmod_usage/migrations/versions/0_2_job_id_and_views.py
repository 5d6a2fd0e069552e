"""Job ids on loads, and the documented views with per-package last loads.

Revision ID: 0.2
Revises: 0.1
Create Date: 2026-12-03

A database made by the original scripts at their revision 0.1 is first
brought to lmod-usage's 0.1 (see `lmod_usage.migrations.original`).

The views are built from SQLAlchemy expressions and compiled for the
database at hand, so the same definitions quote ``user`` correctly on
PostgreSQL, MySQL and SQLite. Unlike the SQL once documented for them,
``last_load`` is each package's own newest load.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from lmod_usage.migrations.original import adopt, name_type

revision = "0.2"
down_revision = "0.1"
branch_labels = None
depends_on = None

user = sa.table("user", sa.column("id"), sa.column("name"))
package = sa.table("package", sa.column("id"), sa.column("name"), sa.column("version"))
module_usage = sa.table(
    "module_usage",
    sa.column("user_id"),
    sa.column("package_id"),
    sa.column("load_time"),
)


def overview() -> sa.Select:
    """Every load with its user, package and version."""
    return sa.select(
        user.c.name.label("user"),
        package.c.name.label("package"),
        package.c.version.label("version"),
        module_usage.c.load_time.label("load_time"),
    ).select_from(
        module_usage.join(user, user.c.id == module_usage.c.user_id).join(
            package, package.c.id == module_usage.c.package_id
        )
    )


def counts(*columns: sa.ColumnElement[object]) -> sa.Select:
    """Loads and the newest load per group of package columns."""
    count = sa.func.count().label("count")
    return (
        sa.select(
            *columns, count, sa.func.max(module_usage.c.load_time).label("last_load")
        )
        .select_from(
            module_usage.join(package, package.c.id == module_usage.c.package_id)
        )
        .group_by(*columns)
        .order_by(sa.desc("count"))
    )


VIEWS = {
    "overview": overview,
    "package_count": lambda: counts(package.c.name.label("package")),
    "package_version_count": lambda: counts(
        package.c.name.label("package"), package.c.version.label("version")
    ),
}


def create_view(name: str, query: sa.Select) -> None:
    """Create one view from a query, compiled for the current database."""
    dialect = op.get_context().dialect
    body = query.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
    quoted = dialect.identifier_preparer.quote(name)
    # On MySQL a view runs with its creator's rights unless told otherwise;
    # a read-only report account should see what its own grants allow.
    security = " SQL SECURITY INVOKER" if dialect.name in ("mysql", "mariadb") else ""
    op.execute(f"CREATE{security} VIEW {quoted} AS {body}")


def upgrade() -> None:
    adopt()
    with op.batch_alter_table("module_usage") as batch:
        batch.add_column(sa.Column("job_id", name_type(255), nullable=True))
    for name, build in VIEWS.items():
        create_view(name, build())


def downgrade() -> None:
    for name in reversed(list(VIEWS)):
        op.execute(
            f"DROP VIEW {op.get_context().dialect.identifier_preparer.quote(name)}"
        )
    with op.batch_alter_table("module_usage") as batch:
        batch.drop_column("job_id")
