"""``python -m driftmatrix``."""

from driftmatrix.cli import main

raise SystemExit(main())
