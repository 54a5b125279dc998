"""Ready-made sizing for common servers and pools, from :mod:`podself.tuning`.

- :mod:`podself.integrations.gunicorn`: ``from podself.integrations.gunicorn import *`` in a
  ``gunicorn.conf.py`` sets ``workers`` and ``threads``.
- :mod:`podself.integrations.uvicorn`: ``workers()``, ``config()`` and ``run(app)``.
- :mod:`podself.integrations.pools`: ``thread_pool()``, ``process_pool()`` and
  ``install_default_executor()`` for ``concurrent.futures`` and ``asyncio``.

None of them imports the server it helps: they only compute numbers.
"""

from __future__ import annotations

__all__: list[str] = []
