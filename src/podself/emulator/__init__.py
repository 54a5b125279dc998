"""The local pod emulator behind ``podself run``: a small kubelet for the Downward API.

``pod`` turns a manifest into a defaulted, scheduled Pod object; ``env`` builds each container's
environment like the kubelet; ``volumes`` projects ``downwardAPI``/``projected``/``configMap``/
``secret``/``emptyDir`` volumes with the ``..data`` protocol; ``mounts`` puts them at their
``mountPath`` (a private mount namespace, or a per-pod root); ``supervisor`` runs the processes;
``state`` is the per-pod directory that ``podself label``/``annotate``/``get`` talk through;
``kubelet`` ties them together.
"""

from __future__ import annotations

__all__: list[str] = []
