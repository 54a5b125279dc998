"""``python -m app``: run the self-aware web service (see ``app.server``)."""

from __future__ import annotations

import sys

from app.server import main

sys.exit(main())
