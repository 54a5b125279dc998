"""What every benchmark shares: the child environment, rotating rounds, the conditions a figure
was measured under, and the headline lines that ``run_all.py`` gathers into the report's
"Headline figures" table (and README's).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

__all__ = [
    "HEADLINE",
    "child_env",
    "conditions",
    "headline",
    "interleave",
    "rotation",
    "time_call",
    "time_process",
]

# A line of a benchmark's output that starts with this is a headline figure, JSON after it.
HEADLINE = "headline: "

T = TypeVar("T")


def child_env(base: Mapping[str, str] | None = None, **extra: str) -> dict[str, str]:
    """An environment for a child process with bytecode caching on, as after ``pip install``.

    ``PYTHONDONTWRITEBYTECODE`` (which CI and some shells set) is dropped: with it, every
    interpreter start recompiles what it imports and the figures measure the compiler.
    """
    env = dict(os.environ if base is None else base)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(extra)
    return env


def rotation(names: Sequence[T], round_: int) -> list[T]:
    """``names`` rotated by ``round_``: in each round every row comes first in turn."""
    if not names:
        return []
    k = round_ % len(names)
    return [*names[k:], *names[:k]]


def interleave(actions: Mapping[str, Callable[[], float]], rounds: int) -> dict[str, list[float]]:
    """Run every action once per round, in an order rotated each round, and keep what each
    returns: machine noise falls on every row alike instead of on one block of them."""
    names = list(actions)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(rounds):
        for name in rotation(names, round_):
            samples[name].append(actions[name]())
    return samples


def time_call(func: Callable[[], object], number: int) -> float:
    """Seconds per call of ``func`` over ``number`` calls in a row."""
    start = time.perf_counter()
    for _ in range(number):
        func()
    return (time.perf_counter() - start) / number


def time_process(argv: Sequence[str], env: Mapping[str, str], **kwargs: object) -> float:
    """Wall seconds of one run of ``argv`` (exit status 0 required), its output discarded."""
    start = time.perf_counter()
    subprocess.run(
        list(argv),
        env=dict(env),
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        **kwargs,  # type: ignore[call-overload]
    )
    return time.perf_counter() - start


def conditions(*details: str) -> str:
    """``details`` followed by the host: CPUs, load average now, Python and OS."""
    try:
        load = f"load {os.getloadavg()[0]:.2f}"
    except (AttributeError, OSError):
        load = "load unknown"
    host = (
        f"{os.cpu_count()} CPUs, {load}, Python {platform.python_version()} on {platform.system()}"
    )
    return "; ".join([*details, host])


def headline(measurement: str, podself: str, peer: str, ratio: str, where: str) -> None:
    """Print one headline figure for ``run_all.py``: what was measured, podself's figure,
    the peer's or baseline's (named), their ratio, and the conditions (from
    :func:`conditions`)."""
    row = {
        "measurement": measurement,
        "podself": podself,
        "peer": peer,
        "ratio": ratio,
        "conditions": where,
    }
    print(HEADLINE + json.dumps(row, ensure_ascii=False), flush=True)
