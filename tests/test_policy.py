"""Tests for podself.policy: knobs, their ranges, and policies from code, env and files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from podself.errors import SourceError
from podself.policy import KNOBS, Policy


class TestPolicy:
    """Policies from code, env and files, with clear errors for bad values."""

    def test_defaults_match_the_knob_table(self) -> None:
        """Every knob's documented default is the Policy default."""
        assert {name: knob.default for name, knob in KNOBS.items()} == Policy().to_dict()

    def test_env_names(self) -> None:
        """Each knob's env var is PODSELF_ + its name in capitals."""
        assert KNOBS["worker_memory_mb"].env == "PODSELF_WORKER_MEMORY_MB"

    def test_from_env_parses_every_kind(self) -> None:
        """Integers, quantities, percentages, booleans, choices and none all parse."""
        policy = Policy.from_env(
            {
                "PODSELF_ROUNDING": "CEIL",
                "PODSELF_MIN_WORKERS": "2",
                "PODSELF_MAX_WORKERS": "none",
                "PODSELF_RESERVE_MILLICORES": "250m",
                "PODSELF_RESERVE_MEMORY_MB": "256Mi",
                "PODSELF_WORKER_MEMORY_MB": "0.5Gi",
                "PODSELF_CACHE_PERCENT": "12.5",
                "PODSELF_USE_REQUESTS": "off",
                "PODSELF_NODE_ALLOCATABLE_MILLICORES": "3.5",
                "PODSELF_HEAP_PERCENT": " ",
            }
        )
        assert (
            policy.rounding,
            policy.min_workers,
            policy.max_workers,
            policy.reserve_millicores,
            policy.reserve_memory_mb,
            policy.worker_memory_mb,
            policy.cache_percent,
            policy.use_requests,
            policy.node_allocatable_millicores,
            policy.heap_percent,
        ) == (
            "ceil",
            2,
            None,
            250,
            256,
            512,
            12.5,
            False,
            3500,
            75,
        )

    @pytest.mark.parametrize(
        ("var", "value", "rule"),
        [
            ("PODSELF_MIN_WORKERS", "0", "min_workers must be a whole number from 1 to 100000"),
            ("PODSELF_MIN_WORKERS", "two", "min_workers must be a whole number from 1 to 100000"),
            ("PODSELF_ROUNDING", "up", "rounding must be one of floor, ceil"),
            ("PODSELF_CACHE_PERCENT", "150", "cache_percent must be a number above 0"),
            ("PODSELF_CACHE_PERCENT", "nan", "cache_percent must be a number above 0"),
            ("PODSELF_USE_REQUESTS", "maybe", "use_requests must be one of 1/true"),
            ("PODSELF_RESERVE_MILLICORES", "-1", "reserve_millicores must be a whole number"),
            ("PODSELF_RESERVE_MEMORY_MB", "12Q", "reserve_memory_mb must be a whole number"),
            ("PODSELF_FALLBACK", "guess", "fallback must be one of auto, host, defaults"),
            ("PODSELF_MAX_WORKERS", "0", "max_workers must be a whole number from 1 to 100000"),
        ],
    )
    def test_bad_env_values_raise_naming_var_rule_value(
        self, var: str, value: str, rule: str
    ) -> None:
        """A bad value names the variable, the rule and the value."""
        with pytest.raises(SourceError) as caught:
            Policy.from_env({var: value})
        message = str(caught.value)
        assert f'env {var}="{value}"' in message
        assert rule in message

    @pytest.mark.parametrize(
        ("var", "value", "rule"),
        [
            ("PODSELF_MIN_WORKERS", "99999999999999999999999", "from 1 to 100000"),
            ("PODSELF_MIN_WORKERS", "9" * 5000, "from 1 to 100000"),
            ("PODSELF_THREADS_PER_CPU", "1025", "from 1 to 1024"),
            ("PODSELF_MAX_CONNECTIONS", "100001", "from 0 to 100000"),
            ("PODSELF_DEFAULT_MILLICORES", "1e999999", "from 1 to 10000000 (millicores"),
            ("PODSELF_RESERVE_MILLICORES", "10000001", "from 0 to 10000000 (millicores"),
            ("PODSELF_WORKER_MEMORY_MB", "2Pi", "from 1 to 1073741824 (MiB"),
            ("PODSELF_DEFAULT_MEMORY_MB", "1073741825", "from 1 to 1073741824 (MiB"),
        ],
    )
    def test_knob_ranges(self, var: str, value: str, rule: str) -> None:
        """Every whole-number knob has an upper bound too; huge text is refused, not parsed."""
        with pytest.raises(SourceError) as caught:
            Policy.from_env({var: value})
        message = str(caught.value)
        assert rule in message
        assert len(message) < 200
        lenient = Policy.from_env({var: value}, strict=False)
        assert lenient == Policy()
        assert "using " in lenient.warnings[0]

    def test_knob_range_edges_are_accepted(self) -> None:
        """The documented maxima themselves are valid."""
        policy = Policy.from_env(
            {
                "PODSELF_MIN_WORKERS": "100000",
                "PODSELF_MAX_WORKERS": "100000",
                "PODSELF_THREADS_PER_CPU": "1024",
                "PODSELF_RESERVE_MILLICORES": "10000",
                "PODSELF_DEFAULT_MEMORY_MB": "1Pi",
            }
        )
        assert (policy.min_workers, policy.threads_per_cpu) == (100000, 1024)
        assert policy.default_memory_mb == 1 << 30

    def test_lenient_env_keeps_defaults_and_warns(self) -> None:
        """strict=False skips bad values and records why."""
        policy = Policy.from_env(
            {"PODSELF_MIN_WORKERS": "0", "PODSELF_MAX_WORKERS": "4"}, strict=False
        )
        assert (policy.min_workers, policy.max_workers) == (1, 4)
        assert len(policy.warnings) == 1
        assert "using min_workers=1" in policy.warnings[0]

    def test_inconsistent_bounds(self) -> None:
        """max_workers below min_workers is refused, from code or env."""
        with pytest.raises(SourceError, match="max_workers=2: must be >= min_workers=3"):
            Policy(min_workers=3, max_workers=2)
        with pytest.raises(SourceError, match="env: policy max_workers=2"):
            Policy.from_env({"PODSELF_MIN_WORKERS": "3", "PODSELF_MAX_WORKERS": "2"})
        with pytest.raises(SourceError, match="max_connections=1"):
            Policy(min_connections=5, max_connections=1)

    @pytest.mark.parametrize(
        ("kwargs", "rule"),
        [
            ({"min_workers": True}, "min_workers must be a whole number"),
            ({"use_requests": 1}, "use_requests must be true or false"),
            ({"heap_percent": 0}, "heap_percent must be a number above 0"),
            ({"rounding": "round"}, "rounding must be one of floor, ceil"),
            ({"connection_mb": None}, "connection_mb must not be None"),
        ],
    )
    def test_bad_code_values(self, kwargs: dict[str, object], rule: str) -> None:
        """Values passed in code are checked like env values."""
        with pytest.raises(SourceError, match=rule):
            Policy(**kwargs)  # type: ignore[arg-type]

    def test_from_toml_file(self, tmp_path: Path) -> None:
        """A TOML file sets knobs at the top level or under [tuning]."""
        flat = tmp_path / "flat.toml"
        flat.write_text('min_workers = 2\nreserve_memory_mb = "128Mi"\nuse_requests = false\n')
        nested = tmp_path / "nested.toml"
        nested.write_text('[tuning]\nrounding = "ceil"\ncache_percent = 30\n')
        policy = Policy.from_file(flat)
        assert (
            policy.min_workers,
            policy.reserve_memory_mb,
            policy.use_requests,
        ) == (2, 128, False)
        assert (
            Policy.from_file(nested).rounding,
            Policy.from_file(nested).cache_percent,
        ) == ("ceil", 30)

    def test_from_json_file(self, tmp_path: Path) -> None:
        """A .json file is read as JSON."""
        path = tmp_path / "policy.json"
        path.write_text(json.dumps({"worker_memory_mb": 150, "max_workers": None}))
        assert Policy.from_file(path).worker_memory_mb == 150

    @pytest.mark.parametrize(
        ("name", "text", "message"),
        [
            ("unknown.toml", "workerz = 2\n", "unknown knob 'workerz'"),
            ("bad.toml", "min_workers = \n", "not valid TOML"),
            ("bad.json", "{", "not valid JSON"),
            ("list.json", "[1]", "expected a table"),
            ("value.toml", "min_workers = 0\n", "min_workers=0: min_workers must be"),
            ("type.toml", 'min_workers = "many"\n', 'min_workers="many"'),
        ],
    )
    def test_bad_files(self, tmp_path: Path, name: str, text: str, message: str) -> None:
        """Bad files raise SourceError naming the file and the problem."""
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(SourceError, match="policy file") as caught:
            Policy.from_file(path)
        assert message in str(caught.value)

    @pytest.mark.parametrize(
        ("name", "text"),
        [
            ("deep.json", "[" * 50_000),
            ("deep.toml", "min_workers = " + "[" * 20_000),
            ("deep-table.json", '{"tuning": ' * 5_000),
        ],
    )
    def test_deeply_nested_file(self, tmp_path: Path, name: str, text: str) -> None:
        """Nesting deeper than the parser recurses is a SourceError naming the file."""
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(SourceError) as caught:
            Policy.from_file(path)
        assert str(caught.value).startswith(f'policy file "{path}": not valid ')
        assert "nested too deeply" in str(caught.value)

    def test_large_or_special_file(self, tmp_path: Path) -> None:
        """Above 64 KiB, or not a regular file (a FIFO never blocks): refused by name."""
        big = tmp_path / "big.toml"
        big.write_text("# padding\n" * 10_000)
        with pytest.raises(SourceError, match=r"cannot be read \(larger than 65536 bytes\)"):
            Policy.from_file(big)
        fifo = tmp_path / "fifo.toml"
        os.mkfifo(fifo)
        with pytest.raises(SourceError, match=r"cannot be read \(not a regular file\)"):
            Policy.from_file(fifo)

    def test_missing_file(self, tmp_path: Path) -> None:
        """An unreadable file names the path and the reason."""
        with pytest.raises(SourceError, match="cannot be read"):
            Policy.from_file(tmp_path / "absent.toml")

    def test_env_file_then_env_vars(self, tmp_path: Path) -> None:
        """PODSELF_POLICY_FILE is read first, then PODSELF_* vars win over it."""
        path = tmp_path / "p.toml"
        path.write_text("min_workers = 2\nmax_workers = 8\n")
        policy = Policy.from_env({"PODSELF_POLICY_FILE": str(path), "PODSELF_MAX_WORKERS": "5"})
        assert (policy.min_workers, policy.max_workers) == (2, 5)

    def test_lenient_env_ignores_broken_file(self, tmp_path: Path) -> None:
        """A broken policy file is ignored with a warning when not strict."""
        path = tmp_path / "p.toml"
        path.write_text("nonsense = 1\n")
        policy = Policy.from_env({"PODSELF_POLICY_FILE": str(path)}, strict=False)
        assert Policy() == policy
        assert "policy file ignored" in policy.warnings[0]

    def test_override_accepts_names_and_env_names(self) -> None:
        """override() takes knob names or PODSELF_* names, typed or as text."""
        policy = Policy().override(
            {"min_workers": "3", "PODSELF_ROUNDING": "ceil", "max_workers": 9}
        )
        assert (policy.min_workers, policy.rounding, policy.max_workers) == (3, "ceil", 9)

    def test_override_unknown_knob(self) -> None:
        """An unknown knob is refused, listing the known ones."""
        with pytest.raises(SourceError, match="--set 'workerz': unknown knob; known: rounding"):
            Policy().override({"workerz": "2"}, origin="--set")

    def test_replace_and_equality(self) -> None:
        """replace() validates; equality ignores warnings."""
        policy = Policy().replace(min_workers=2)
        assert Policy(min_workers=2) == policy
        assert Policy(warnings=("x",)) == Policy()
        with pytest.raises(SourceError):
            policy.replace(min_workers=-1)


class TestDocs:
    """docs/tuning.md documents every knob."""

    def test_every_knob_is_documented(self) -> None:
        """Each knob's name and PODSELF_* env var appear in the knob table."""
        path = Path(__file__).resolve().parents[1] / "docs" / "tuning.md"
        if not path.is_file():
            pytest.skip(f"{path} not found")
        text = path.read_text(encoding="utf-8")
        for knob in KNOBS.values():
            assert f"| `{knob.name}` |" in text
            assert f"`{knob.env}`" in text
