"""Choosing the database from --db, DB_URL, the DB_* settings and .env."""

from __future__ import annotations

from pathlib import Path

import pytest

from lmod_usage.config import load_settings, read_environment
from lmod_usage.errors import ConfigError


def describe(environ: dict[str, str], option: str | None = None) -> str:
    """The masked URL chosen for the given settings."""
    return load_settings(option, environ).describe()


def test_default_is_sqlite_in_the_working_directory() -> None:
    assert describe({}) == "sqlite:///lmod.db"


def test_db_name_names_the_sqlite_file() -> None:
    assert describe({"DB_NAME": "usage"}) == "sqlite:///usage.db"


def test_db_user_means_mysql_with_documented_defaults() -> None:
    settings = load_settings(None, {"DB_USER": "lmod", "DB_PASSWORD": "s3cret"})

    assert settings.url.render_as_string(hide_password=False) == (
        "mysql+pymysql://lmod:s3cret@localhost:3306/lmod"
    )
    assert settings.describe() == "mysql+pymysql://lmod:***@localhost:3306/lmod"
    assert settings.source == "DB_USER"


def test_db_settings_are_all_used() -> None:
    environ = {
        "DB_USER": "ops",
        "DB_PASSWORD": "p@ss/word",
        "DB_HOST": "db.example.org",
        "DB_PORT": "3307",
        "DB_NAME": "usage",
    }

    settings = load_settings(None, environ)

    assert settings.url.password == "p@ss/word"
    assert settings.describe() == "mysql+pymysql://ops:***@db.example.org:3307/usage"


def test_db_url_wins_over_db_user_and_db_option_over_both() -> None:
    environ = {"DB_USER": "ops", "DB_URL": "sqlite:///from-env.db"}

    assert describe(environ) == "sqlite:///from-env.db"
    assert describe(environ, "sqlite:///from-option.db") == "sqlite:///from-option.db"


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgresql://u@h/lmod", "postgresql+psycopg://u@h/lmod"),
        ("mysql://u@h/lmod", "mysql+pymysql://u@h/lmod"),
        ("mariadb://u@h/lmod", "mariadb+pymysql://u@h/lmod"),
        ("postgresql+psycopg://u@h/lmod", "postgresql+psycopg://u@h/lmod"),
    ],
    ids=["postgresql", "mysql", "mariadb", "explicit-driver"],
)
def test_urls_without_a_driver_get_the_installed_one(given: str, used: str) -> None:
    assert describe({"DB_URL": given}) == used


def test_bad_port_is_named() -> None:
    with pytest.raises(ConfigError, match="DB_PORT must be a number, not 'abc'"):
        load_settings(None, {"DB_USER": "ops", "DB_PORT": "abc"})


def test_bad_url_does_not_repeat_its_text() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings("not a url with secret", {})

    assert "secret" not in str(caught.value)
    assert str(caught.value).startswith("--db is not a database URL")


def test_dot_env_is_read_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text("DB_USER=fromfile\nDB_NAME=filedb\nDB_PORT=3310\n")
    monkeypatch.setenv("DB_NAME", "envdb")

    environ = read_environment(tmp_path / ".env")

    assert describe(environ) == "mysql+pymysql://fromfile@localhost:3310/envdb"
