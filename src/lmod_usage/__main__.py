"""Allow ``python -m lmod_usage``."""

from lmod_usage.cli import main

raise SystemExit(main())
