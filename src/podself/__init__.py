"""podself: a Python process on Kubernetes learns who and where it is, and what it may use.

Standard library only; importing it costs well under a millisecond and never raises.
"""

from __future__ import annotations

from podself.errors import PodselfError

__version__ = "0.1.0"
__all__ = ["PodselfError", "__version__"]
