"""Run every ``benchmarks/bench_*.py`` and write one Markdown report, ``benchmarks/REPORT.md``.

Each benchmark prints its own side-by-side table (every ratio against a baseline measured in the
same run); this script runs them one after another, shows their output as it comes, and collects
it under one heading per benchmark, with the machine's details and the command to reproduce.
A benchmark that fails (non-zero exit, or no output before ``--timeout``) is reported as failed,
with its exit status and the end of its stderr; the report is written either way.

Each benchmark also prints its headline figures as ``headline: {json}`` lines (see
``_common.headline``): they are taken out of its section and gathered into the report's
"Headline figures" table, and that table replaces the one between the ``bench:start`` and
``bench:end`` markers of every README that has them, so the README quotes the latest report.

Usage: python benchmarks/run_all.py [--only NAME]... [--timeout S] [--output FILE] [--list]
Exit status: 0 when every benchmark succeeded, 1 when any failed, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import ast
import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from _common import HEADLINE, child_env

__all__ = [
    "Outcome",
    "benchmarks",
    "headline_table",
    "machine_details",
    "main",
    "marked_block",
    "render_report",
    "replace_marked_block",
    "run_benchmark",
]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
REPORT = HERE / "REPORT.md"
REPRODUCE = "make bench"  # runs: .venv/bin/python benchmarks/run_all.py
STDERR_TAIL = 40  # lines of a failed benchmark's stderr kept in the report
READMES = (ROOT / "README.md", ROOT / "README.ko.md")  # updated where they hold the markers
START, END = "<!-- bench:start -->", "<!-- bench:end -->"
HEADLINE_KEYS = ("measurement", "podself", "peer", "ratio", "conditions")


@dataclass
class Outcome:
    """What one benchmark did: its command, output, exit status and wall time."""

    name: str
    command: list[str]
    description: str
    markdown: bool
    returncode: int | None = None  # None: killed at the timeout
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0
    error: str = ""  # could not be started at all
    headlines: list[dict[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Exit status 0 and something printed."""
        return not self.error and self.returncode == 0 and bool(self.stdout.strip())

    def status(self) -> str:
        """One phrase for the summary table."""
        if self.error:
            return f"**failed**: {self.error}"
        if self.returncode is None:
            return "**failed**: timed out"
        if self.returncode != 0:
            return f"**failed**: exit status {self.returncode}"
        if not self.stdout.strip():
            return "**failed**: printed nothing"
        return "ok"


def benchmarks(directory: Path = HERE) -> list[Path]:
    """Every ``bench_*.py`` in ``directory``, by name."""
    return sorted(directory.glob("bench_*.py"))


def _description(path: Path) -> str:
    """The first paragraph of the benchmark's module docstring, on one line."""
    try:
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    except (OSError, SyntaxError, ValueError):
        return ""
    return " ".join(doc.split("\n\n", 1)[0].split())


def _accepts_markdown(path: Path, timeout: float) -> bool:
    """Whether ``--help`` lists ``--markdown`` (then the tables come out as Markdown)."""
    try:
        result = subprocess.run(
            [sys.executable, str(path), "--help"],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=ROOT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0 and "--markdown" in result.stdout


def _pump(stream: object, sink: list[str], echo: bool) -> None:
    assert hasattr(stream, "readline")
    for line in iter(stream.readline, ""):
        sink.append(line)
        if echo:
            sys.stdout.write(line)
            sys.stdout.flush()


def run_benchmark(path: Path, *, timeout: float, echo: bool = True) -> Outcome:
    """Run one benchmark with this interpreter from the repository root, output shown live."""
    markdown = _accepts_markdown(path, min(timeout, 60.0))
    command = [sys.executable, str(path.relative_to(ROOT))] + (["--markdown"] if markdown else [])
    outcome = Outcome(path.stem, command, _description(path), markdown)
    # Bytecode cached for the benchmark and whatever it starts, as after pip install.
    env = child_env(PYTHONUNBUFFERED="1")
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            start_new_session=True,  # a timeout stops the benchmark and whatever it started
        )
    except OSError as exc:
        outcome.error = f"cannot start: {exc}"
        return outcome
    out: list[str] = []
    err: list[str] = []
    pumps = [
        threading.Thread(target=_pump, args=(proc.stdout, out, echo), daemon=True),
        threading.Thread(target=_pump, args=(proc.stderr, err, False), daemon=True),
    ]
    for pump in pumps:
        pump.start()
    try:
        outcome.returncode = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _stop(proc)
        outcome.returncode = None
    for pump in pumps:
        pump.join(timeout=10)
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()
    outcome.seconds = time.monotonic() - started
    outcome.stdout, outcome.headlines = split_headlines("".join(out))
    outcome.stderr = "".join(err)
    return outcome


def split_headlines(stdout: str) -> tuple[str, list[dict[str, str]]]:
    """``stdout`` without its headline lines, and those lines' figures.

    A headline line that is not a JSON object of the five text fields is kept in the output
    as it is (so it shows in the report) instead of becoming a row."""
    kept: list[str] = []
    rows: list[dict[str, str]] = []
    for line in stdout.splitlines(keepends=True):
        if line.startswith(HEADLINE):
            try:
                row = json.loads(line[len(HEADLINE) :])
            except ValueError:
                row = None
            if isinstance(row, dict) and all(isinstance(row.get(k), str) for k in HEADLINE_KEYS):
                rows.append({k: row[k] for k in HEADLINE_KEYS})
                continue
        kept.append(line)
    return "".join(kept), rows


def _stop(proc: subprocess.Popen[str]) -> None:
    import signal

    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        return


# -- the machine --------------------------------------------------------------------------------


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return ""


def _cpu_model() -> str:
    for line in _read("/proc/cpuinfo").splitlines():
        key, _, value = line.partition(":")
        if key.strip() in {"model name", "Hardware", "cpu model"}:
            return value.strip()
    return platform.processor() or platform.machine() or "unknown"


def _memory() -> str:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            kib = int(line.split()[1])
            return f"{kib / 2**20:.1f} GiB"
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return "unknown"
    return f"{pages / 2**30:.1f} GiB"


def _cores() -> str:
    total = os.cpu_count() or 0
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = total
    text = f"{total} logical" + (f", {usable} usable (affinity)" if usable != total else "")
    try:
        from podself.cgroups import read_limits

        limits = read_limits()
    except Exception:  # the report must be written whatever the cgroup files hold
        return text
    if limits.cpu_limit_millicores is not None:
        text += f"; cgroup {limits.version} CPU limit {limits.cpu_limit_millicores}m"
    if limits.memory_limit_bytes is not None:
        text += f"; cgroup memory limit {limits.memory_limit_bytes / 2**20:.0f} MiB"
    return text


def _git() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"
    return f"{head} (with uncommitted changes)" if dirty else head


def machine_details(now: datetime.datetime | None = None) -> list[tuple[str, str]]:
    """Name/value rows: CPU model, cores, memory, kernel, OS, Python, date, commit."""
    moment = now or datetime.datetime.now(datetime.UTC)
    uname = platform.uname()
    try:
        import podself

        version = podself.__version__
    except ImportError:
        version = "not importable"
    return [
        ("CPU", _cpu_model()),
        ("cores", _cores()),
        ("memory", _memory()),
        ("kernel", f"{uname.system} {uname.release} ({uname.machine})"),
        ("OS", _os_name()),
        (
            "Python",
            f"{platform.python_implementation()} {platform.python_version()} ({sys.executable})",
        ),
        ("podself", f"{version}, commit {_git()}"),
        ("date", moment.strftime("%Y-%m-%d %H:%M UTC")),
    ]


def _load() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except (AttributeError, OSError):
        return "unknown"
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def _os_name() -> str:
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.partition("=")[2].strip().strip('"')
    return platform.platform()


# -- the report ---------------------------------------------------------------------------------


def _fence(text: str) -> str:
    ticks = "````" if "```" in text else "```"
    return f"{ticks}text\n{text.rstrip()}\n{ticks}"


def _cell(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split())


def headline_table(outcomes: Sequence[Outcome]) -> str:
    """The "Headline figures" table of the benchmarks' headline lines, in their order, between
    the markers: the very text that goes into the README."""
    lines = [
        START,
        "| measurement | podself | peer or baseline | ratio | conditions |",
        "|---|---:|---|---:|---|",
    ]
    for outcome in outcomes:
        for row in outcome.headlines:
            lines.append("| " + " | ".join(_cell(row[k]) for k in HEADLINE_KEYS) + " |")
    if len(lines) == 3:
        lines.append("| no headline figures: every benchmark failed | | | | |")
    lines.append(END)
    return "\n".join(lines)


def marked_block(text: str) -> str | None:
    """The text from the ``bench:start`` marker to the ``bench:end`` marker, both included;
    None when ``text`` lacks either."""
    start = text.find(START)
    end = text.find(END, start + len(START)) if start >= 0 else -1
    if start < 0 or end < 0:
        return None
    return text[start : end + len(END)]


def replace_marked_block(text: str, block: str) -> str | None:
    """``text`` with its marked block replaced by ``block``; None when it has no markers."""
    old = marked_block(text)
    if old is None:
        return None
    start = text.find(old)
    return text[:start] + block + text[start + len(old) :]


def render_report(
    outcomes: Sequence[Outcome],
    machine: Sequence[tuple[str, str]],
    *,
    total_seconds: float,
    command: str = REPRODUCE,
) -> str:
    """The whole ``REPORT.md``: summary, machine, then one section per benchmark."""
    failed = [o for o in outcomes if not o.ok]
    lines = [
        "# Benchmark report",
        "",
        f"Generated by `benchmarks/run_all.py`; reproduce with `{command}`. Every table",
        "compares podself with a baseline measured in the same run, on the machine below.",
        "",
        f"{len(outcomes) - len(failed)} of {len(outcomes)} benchmarks succeeded "
        f"in {total_seconds:.0f} s"
        + (f"; **failed: {', '.join(o.name for o in failed)}**." if failed else "."),
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *(f"| {name} | {value.replace('|', '/')} |" for name, value in machine),
        "",
        "## Headline figures",
        "",
        "Each benchmark's own headline lines, with the conditions it ran under; README.md",
        "shows this table as it is.",
        "",
        headline_table(outcomes),
        "",
        "## Summary",
        "",
        "| benchmark | status | time | command |",
        "|---|---|---|---|",
    ]
    for o in outcomes:
        shown = shlex.join(["python", *o.command[1:]])
        lines.append(f"| [{o.name}](#{o.name}) | {o.status()} | {o.seconds:.0f} s | `{shown}` |")
    for o in outcomes:
        if lines[-1]:
            lines.append("")
        lines += [f"## {o.name}", ""]
        if o.description:
            lines += [o.description, ""]
        lines += [
            f"`{shlex.join(['python', *o.command[1:]])}` — {o.status()}, {o.seconds:.1f} s",
            "",
        ]
        if o.stdout.strip():
            lines.append(o.stdout.strip() if o.markdown else _fence(o.stdout))
            lines.append("")
        if not o.ok:
            tail = o.stderr.strip().splitlines()[-STDERR_TAIL:]
            if tail:
                lines += [f"stderr (last {len(tail)} lines):", "", _fence("\n".join(tail)), ""]
            elif o.error:
                lines += [o.error, ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def update_readmes(block: str, readmes: Sequence[Path] = READMES) -> list[Path]:
    """Put ``block`` in place of the marked table of each README that has one; those changed."""
    changed = []
    for path in readmes:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError:
            continue
        new = replace_marked_block(text, block)
        if new is not None and new != text:
            path.write_text(new, encoding="utf-8")
            changed.append(path)
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks and write the report; 0 if all succeeded, 1 if any failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help="run only this benchmark (bench_watch or watch; repeatable)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=900.0,
        metavar="S",
        help="seconds one benchmark may take before it is stopped and reported failed "
        "(default 900)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=REPORT,
        metavar="FILE",
        help="default benchmarks/REPORT.md (then README's headline table is replaced too)",
    )
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)
    if args.timeout <= 0:
        parser.error(f"--timeout {args.timeout}: must be a positive number of seconds")
    found = benchmarks()
    if args.list:
        for path in found:
            print(f"{path.stem:<16} {_description(path)}")
        return 0
    wanted = {name if name.startswith("bench_") else f"bench_{name}" for name in args.only}
    unknown = sorted(wanted - {p.stem for p in found})
    if unknown:
        parser.error(f"no such benchmark: {', '.join(unknown)} (see --list)")
    selected = [p for p in found if not wanted or p.stem in wanted]
    if not selected:
        print("run_all: no benchmarks/bench_*.py found", file=sys.stderr)
        return 1

    started = time.monotonic()
    load_before = _load()
    outcomes: list[Outcome] = []
    for number, path in enumerate(selected, 1):
        print(f"\n=== [{number}/{len(selected)}] {path.stem} ===", flush=True)
        outcome = run_benchmark(path, timeout=args.timeout)
        outcomes.append(outcome)
        print(f"--- {path.stem}: {outcome.status()} in {outcome.seconds:.1f} s", flush=True)
        if not outcome.ok and outcome.stderr.strip():
            print(outcome.stderr.rstrip()[-4000:], file=sys.stderr, flush=True)
    command = REPRODUCE
    if wanted:  # a partial run says so, so it is not mistaken for the whole report
        only = " ".join(f"--only {name}" for name in sorted(wanted))
        command = f"python benchmarks/run_all.py {only}"
    # Other processes on the machine skew the numbers: say how busy it was.
    machine = [
        *machine_details(),
        ("load average (1/5/15 min)", f"before {load_before}; after {_load()}"),
    ]
    report = render_report(
        outcomes, machine, total_seconds=time.monotonic() - started, command=command
    )
    output: Path = args.output
    output.write_text(report, encoding="utf-8")
    if output.resolve() == REPORT:  # README quotes the report in its place, never another file
        update_readmes(headline_table(outcomes))
    failed = [o.name for o in outcomes if not o.ok]
    where = output.relative_to(ROOT) if output.is_relative_to(ROOT) else output
    print(f"\nwrote {where}" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
