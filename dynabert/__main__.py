"""`python -m dynabert ...`: see dynabert/cli.py."""

from dynabert.cli import main

raise SystemExit(main())
