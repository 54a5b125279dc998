"""Ready-made sizing for common servers and pools, from :mod:`podself.tuning`.

- :mod:`podself.integrations.gunicorn`: ``from podself.integrations.gunicorn import *`` in a
  ``gunicorn.conf.py`` sets ``workers`` and ``threads`` and adds hooks that number the workers
  and follow an in-place resize.
- :mod:`podself.integrations.uvicorn`: ``workers()``, ``config()`` and ``run(app)``, which
  follows resizes.
- :mod:`podself.integrations.celery`: ``install(app)`` sets ``worker_concurrency`` and resizes
  a prefork pool; ``config()`` for the number alone.
- :mod:`podself.integrations.pools`: ``thread_pool()``, ``process_pool()``,
  ``install_default_executor()`` and ``ResizablePool`` for ``concurrent.futures`` and
  ``asyncio``.

None of them imports the server it helps before it is used.
"""

from __future__ import annotations

__all__: list[str] = []
