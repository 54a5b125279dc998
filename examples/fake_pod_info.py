"""Build a fake pod with podself.testing and run ``podself info`` inside it.

This is what a container sees on a real node: env vars from fieldRef/resourceFieldRef,
a Downward API volume in the kubelet's ``..data`` layout and a cgroup v2 tree.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

from podself.testing import FakePod


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="podself-demo-") as root:
        pod = FakePod(
            root,
            name="env-downward-demo",
            labels={"app": "myapp", "version": "1.0"},
            annotations={"team": "platform-team", "build-id": "build-456"},
            limits={"cpu": "200m", "memory": "256Mi"},
            requests={"cpu": "100m", "memory": "128Mi"},
            extra_env={"APP_VERSION": "1.0"},
        )
        env = {
            "PATH": os.environ.get("PATH", ""),
            **pod.environ,
            "PODSELF_ROOT": root,
            "PODSELF_PROC_ROOT": str(pod.proc_root),
        }
        print(f"$ podself info    # inside a fake pod under {root}\n", flush=True)
        return subprocess.call([sys.executable, "-m", "podself", "info"], env=env)


if __name__ == "__main__":
    sys.exit(main())
