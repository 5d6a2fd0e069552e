"""Alembic migrations of the lmod-usage schema."""
