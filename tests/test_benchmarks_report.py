"""README's benchmark table is the latest report's, and ``benchmarks/run_all.py`` builds that
table from the headline lines the benchmarks print."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))  # the benchmarks import each other as scripts do

import run_all  # noqa: E402
from _common import headline  # noqa: E402


def test_every_readme_table_is_the_reports() -> None:
    report = run_all.marked_block((ROOT / "benchmarks" / "REPORT.md").read_text(encoding="utf-8"))
    readme = run_all.marked_block((ROOT / "README.md").read_text(encoding="utf-8"))
    assert readme is not None, "README.md lost its bench:start/bench:end markers"
    if report is None:
        pytest.skip("benchmarks/REPORT.md predates its headline table: `make bench` writes both")
    assert readme == report
    korean = run_all.marked_block((ROOT / "README.ko.md").read_text(encoding="utf-8"))
    assert korean in (None, report)


def test_headline_lines_become_the_report_table_and_the_readme_block(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    print("a table the benchmark prints")
    headline("lint | throughput", "2,900 docs/s", "PyYAML: 2,400 docs/s", "1.2×", "2 CPUs")
    print("headline: {not json")  # malformed: kept in the output, no row
    stdout, rows = run_all.split_headlines(capsys.readouterr().out)
    assert stdout == "a table the benchmark prints\nheadline: {not json\n"
    assert rows == [
        {
            "measurement": "lint | throughput",
            "podself": "2,900 docs/s",
            "peer": "PyYAML: 2,400 docs/s",
            "ratio": "1.2×",
            "conditions": "2 CPUs",
        }
    ]
    outcome = run_all.Outcome("bench_x", ["python", "bench_x.py"], "", False, 0, stdout)
    outcome.headlines = rows
    report = run_all.render_report([outcome], [("CPU", "test")], total_seconds=1.0)
    block = run_all.marked_block(report)
    assert block == run_all.headline_table([outcome])
    assert "| lint \\| throughput | 2,900 docs/s | PyYAML: 2,400 docs/s | 1.2× | 2 CPUs |" in block
    assert "headline: {not json" in report.split("## bench_x", 1)[1]

    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n\n{run_all.START}\n| old | table |\n{run_all.END}\n\nrest\n")
    plain = tmp_path / "README.ko.md"
    plain.write_text("no table here\n")
    assert run_all.update_readmes(block, [readme, plain, tmp_path / "missing.md"]) == [readme]
    assert readme.read_text() == f"intro\n\n{block}\n\nrest\n"
    assert plain.read_text() == "no table here\n"
    assert run_all.update_readmes(block, [readme]) == []  # already up to date


def test_a_run_whose_benchmarks_all_failed_says_so_in_the_table() -> None:
    failed = run_all.Outcome("bench_x", ["python", "bench_x.py"], "", False, 1, "")
    table = run_all.headline_table([failed])
    assert "no headline figures" in table
    assert table.startswith(run_all.START)
    assert table.endswith(run_all.END)
