"""``python -m podself`` runs the CLI."""

from __future__ import annotations

import sys

from podself.cli import main

sys.exit(main())
