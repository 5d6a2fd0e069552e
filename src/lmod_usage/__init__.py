"""lmod-usage: Lmod module-load records from syslog, stored in SQL."""

__version__ = "0.2.0"
