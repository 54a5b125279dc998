"""Tests for ``podself tune`` and ``podself exec`` run against fake pods."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from podself.cli import main
from podself.testing import FakePod

SEED_CASES = [
    ({"cpu": "500m", "memory": "512Mi"}, {"workers": 1, "cache_mb": 128, "connections": 16}),
    ({"cpu": "2000m", "memory": "2Gi"}, {"workers": 2, "cache_mb": 512, "connections": 64}),
]
HEAP_CASES = [("512Mi", 384), ("2Gi", 1536), ("4Gi", 3072)]
UseEnv = Callable[[dict[str, str]], None]


def pod_env(
    tmp_path: Path, cgroup: str | None = "v2", extra: dict[str, str] | None = None, **pod: object
) -> dict[str, str]:
    """The environment a process inside this FakePod would see (PODSELF_ROOT points at it)."""
    fake = FakePod(tmp_path, cgroup=cgroup, **pod)  # type: ignore[arg-type]
    env = dict(fake.environ)
    env["PODSELF_ROOT"] = str(fake.root)
    env["PODSELF_PROC_ROOT"] = str(fake.proc_root if cgroup else fake.root / "no-proc")
    env.update(extra or {})
    return env


@pytest.fixture(name="use_env")
def _use_env(monkeypatch: pytest.MonkeyPatch) -> UseEnv:
    """Replace the process environment (keeping PATH) for an in-process CLI run."""

    def apply(env: dict[str, str]) -> None:
        path = os.environ.get("PATH", "")
        for key in list(os.environ):
            monkeypatch.delenv(key)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("PATH", path)

    return apply


class CapturedExec(Exception):
    """Raised instead of replacing the test process."""

    def __init__(self, file: str, argv: list[str], env: dict[str, str]) -> None:
        super().__init__(file)
        self.file = file
        self.argv = argv
        self.env = env


@pytest.fixture(name="no_exec")
def _no_exec(monkeypatch: pytest.MonkeyPatch) -> None:
    """os.execvpe raises CapturedExec with what it would have run."""

    def fake(file: str, argv: list[str], env: dict[str, str]) -> None:
        raise CapturedExec(file, list(argv), dict(env))

    monkeypatch.setattr(os, "execvpe", fake)


def run_exec(args: list[str]) -> CapturedExec:
    """Run ``podself exec`` in process and return what it would exec."""
    with pytest.raises(CapturedExec) as caught:
        main(["exec", *args])
    return caught.value


def python_313() -> str | None:
    """A working Python 3.13+ interpreter on this machine (pyenv or PATH), if any."""
    import glob
    import shutil

    pyenv = os.path.expanduser("~/.pyenv/versions/3.1[3-9]*/bin/python3.1[3-9]")
    candidates = sorted(glob.glob(pyenv), reverse=True)
    candidates += [shutil.which(f"python3.{minor}") or "" for minor in (15, 14, 13)]
    for candidate in filter(None, candidates):
        check = [candidate, "-c", "import sys; assert sys.version_info >= (3, 13)"]
        if subprocess.run(check, capture_output=True, check=False).returncode == 0:
            return candidate  # a pyenv shim on PATH may exist without the version behind it
    return None


def subprocess_podself(
    args: list[str], env: dict[str, str], **kwargs: object
) -> subprocess.CompletedProcess[str]:
    """``python -m podself ARGS`` in a child process with exactly ``env`` (plus PATH)."""
    full = {**env, "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-m", "podself", *args],
        env=full,
        capture_output=True,
        text=True,
        check=False,
        **kwargs,
    )


class TestTuneJson:
    """``podself tune --json`` reproduces the seed's published numbers."""

    @pytest.mark.parametrize("cgroup", ["v1", "v2", None])
    @pytest.mark.parametrize("case", SEED_CASES)
    def test_exercise_4(
        self,
        tmp_path: Path,
        use_env: UseEnv,
        capsys: pytest.CaptureFixture[str],
        cgroup: str | None,
        case: tuple[dict[str, str], dict[str, int]],
    ) -> None:
        """512Mi/500m → 1/128/16 and 2Gi/2000m → 2/512/64 under a fake pod's env."""
        limits, expected = case
        use_env(pod_env(tmp_path, cgroup, limits=limits))
        assert main(["tune", "--json"]) == 0
        data = json.loads(capsys.readouterr().out)
        assert {k: data[k] for k in expected} == expected
        assert data["reasons"]["workers"].startswith(f"workers={expected['workers']}: cpu limit")
        assert data["warnings"] == []

    @pytest.mark.parametrize(("memory", "heap_mb"), HEAP_CASES)
    def test_java_heap_table(
        self,
        tmp_path: Path,
        use_env: UseEnv,
        capsys: pytest.CaptureFixture[str],
        memory: str,
        heap_mb: int,
    ) -> None:
        """The Java example's heap is 384/1536/3072 MB for 512Mi/2Gi/4Gi."""
        use_env(pod_env(tmp_path, limits={"cpu": "1000m", "memory": memory}))
        assert main(["tune", "--json"]) == 0
        data = json.loads(capsys.readouterr().out)
        assert (data["heap_mb"], data["gc_threads"]) == (heap_mb, 1)

    def test_what_if_flags(self, capsys: pytest.CaptureFixture[str]) -> None:
        """--cpu and --memory size for given limits, whatever this machine has."""
        assert main(["tune", "--json", "--cpu", "16", "--memory", "4Gi"]) == 0
        data = json.loads(capsys.readouterr().out)
        assert (data["workers"], data["heap_mb"], data["cache_mb"]) == (16, 3072, 1024)
        assert "argument" in data["reasons"]["cpu_millicores"]

    def test_set_knobs(self, capsys: pytest.CaptureFixture[str]) -> None:
        """--set changes the policy; the reason reflects it."""
        args = ["tune", "--json", "--cpu", "8", "--memory", "1Gi"]
        assert main([*args, "--set", "worker_memory_mb=300", "--set", "rounding=ceil"]) == 0
        data = json.loads(capsys.readouterr().out)
        assert data["workers"] == 3
        assert "300 MB per worker" in data["reasons"]["workers"]

    def test_policy_file_and_env(
        self, tmp_path: Path, use_env: UseEnv, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--policy FILE is read, PODSELF_* env wins over it and --set over both."""
        policy = tmp_path / "policy.toml"
        policy.write_text(
            "min_workers = 3\nmax_workers = 6\ncache_percent = 50\nworker_memory_mb = 128\n"
        )
        env = pod_env(tmp_path / "pod", limits={"cpu": "500m", "memory": "512Mi"})
        env["PODSELF_MAX_WORKERS"] = "5"
        use_env(env)
        assert main(["tune", "--json", "--policy", str(policy), "--set", "min_workers=4"]) == 0
        data = json.loads(capsys.readouterr().out)
        assert (data["workers"], data["cache_mb"]) == (4, 256)

    def test_exercise_5_env_map(
        self, tmp_path: Path, use_env: UseEnv, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """An init container reading the main app's CPU_LIMIT (1m) gets nginx_workers=1."""
        env = pod_env(
            tmp_path,
            cgroup=None,
            env={"CPU_LIMIT": ("limits.cpu", "1m")},
            limits={"cpu": "1000m", "memory": "1Gi"},
        )
        use_env(env)
        args = ["tune", "--json", "--env-map", "CPU_LIMIT=resources.cpu_limit@1m"]
        assert main(args) == 0
        data = json.loads(capsys.readouterr().out)
        assert (data["nginx_workers"], data["cpu_from"]) == (1, "limit")
        assert "env CPU_LIMIT" in data["reasons"]["nginx_workers"]


class TestTuneFormats:
    """--env, --shell and the human table."""

    def test_env_lines(
        self, tmp_path: Path, use_env: UseEnv, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--env prints the seed's shell names then the conventional env."""
        use_env(pod_env(tmp_path, limits={"cpu": "500m", "memory": "512Mi"}))
        assert main(["tune", "--env"]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert lines[:4] == ["WORKERS=1", "THREADS=1", "CACHE_SIZE_MB=128", "CONN_POOL_SIZE=16"]
        assert "HEAP_SIZE=384" in lines
        assert "WEB_CONCURRENCY=1" in lines
        assert not any(line.startswith("JAVA_TOOL_OPTIONS=") for line in lines)

    def test_shell_quoting_round_trips(
        self, tmp_path: Path, use_env: UseEnv, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--shell --java quotes values so a shell reads them back unchanged."""
        use_env(pod_env(tmp_path, limits={"cpu": "2", "memory": "2Gi"}))
        assert main(["tune", "--shell", "--java", "--prefix", "APP_"]) == 0
        out = capsys.readouterr().out
        assert "export JAVA_TOOL_OPTIONS='-Xmx1536m -Xms1536m -XX:ParallelGCThreads=2'" in out
        script = out + 'printf "%s|%s|%s" "$APP_WORKERS" "$APP_CACHE_SIZE_MB" "$JAVA_TOOL_OPTIONS"'
        shown = subprocess.run(
            ["sh", "-c", script], capture_output=True, text=True, check=True
        ).stdout
        assert shown == "2|512|-Xmx1536m -Xms1536m -XX:ParallelGCThreads=2"
        for line in out.splitlines():
            assert shlex.split(line)[0] == "export"

    def test_human_table(
        self, tmp_path: Path, use_env: UseEnv, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The default output lists every number with its reason."""
        use_env(pod_env(tmp_path, limits={"cpu": "2", "memory": "2Gi"}))
        assert main(["tune"]) == 0
        out = capsys.readouterr().out
        assert "cpu limit 2000m (env RESOURCE_CPU_LIMIT_MILLICORES) / 1000, floor, min 1" in out
        for name in ("workers", "threads", "cache_mb", "connections", "heap_mb", "gc_threads"):
            assert f"  {name}" in out
        assert "WEB_CONCURRENCY=2" in out

    def test_warnings_shown(
        self, tmp_path: Path, use_env: UseEnv, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A pod without limits gets the defaults and the table says why."""
        use_env(pod_env(tmp_path, limits={}, requests={}))
        assert main(["tune"]) == 0
        out = capsys.readouterr().out
        assert "Warnings:" in out
        assert "default_millicores=500" in out

    def test_warnings_printed_once(self, tmp_path: Path) -> None:
        """The table and --json carry the warnings; nothing repeats them on stderr (--env and
        --shell, whose stdout is for the shell, print them there, once)."""
        env = {"PODSELF_PODINFO_DIR": str(tmp_path / "none"), "PODSELF_PROC_ROOT": str(tmp_path)}
        for args, where in (
            (["tune", "--cpu", "2"], "out"),
            (["tune", "--cpu", "2", "--env"], "err"),
        ):
            done = subprocess_podself(args, env)
            text = done.stdout + done.stderr
            assert text.count("no memory limit or request found") == 1, text
            assert "no memory limit" in (done.stdout if where == "out" else done.stderr)

    def test_options_explain_their_values(self, tmp_path: Path) -> None:
        """--cpu and --memory are named as the source of what they set."""
        env = {"PODSELF_PODINFO_DIR": str(tmp_path / "none"), "PODSELF_PROC_ROOT": str(tmp_path)}
        out = subprocess_podself(["tune", "--cpu", "2", "--memory", "1Gi"], env).stdout
        assert "cpu_millicores=2000: cpu limit 2000m (argument --cpu 2)" in out
        assert "memory_mb=1024: memory limit 1024 MB (argument --memory 1Gi)" in out


class TestTuneKeepsUserEnv:
    def test_env_and_shell_skip_runtime_variables_already_set(
        self, tmp_path: Path, use_env: UseEnv, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """eval "$(podself tune --shell)" never overrides a runtime variable the user set."""
        env = pod_env(tmp_path, limits={"cpu": "1500m", "memory": "1Gi"})
        env["PYTHON_CPU_COUNT"] = "5"
        use_env(env)
        for form in ("--env", "--shell"):
            assert main(["tune", form]) == 0
            out = capsys.readouterr().out
            assert "PYTHON_CPU_COUNT" not in out
            assert "LOKY_MAX_CPU_COUNT=" in out  # 1500m counts 2, as podself.cpu_count()
            assert "LOKY_MAX_CPU_COUNT=2" in out or "LOKY_MAX_CPU_COUNT='2'" in out


class TestTuneErrors:
    """Bad input exits 2 with a message naming the problem."""

    @pytest.mark.parametrize(
        ("args", "env", "message"),
        [
            (["--set", "min_workers=0"], {}, '--set min_workers="0": min_workers must be'),
            (["--set", "bogus=1"], {}, "--set 'bogus': unknown knob"),
            (["--set", "novalue"], {}, '--set "novalue": expected KNOB=VALUE'),
            ([], {"PODSELF_ROUNDING": "up"}, 'env PODSELF_ROUNDING="up"'),
            (["--cpu", "lots"], {}, "--cpu:"),
            (["--memory=-1Gi"], {}, '--memory "-1Gi": must be a positive quantity'),
            (["--env-map", "CPU"], {}, '--env-map "CPU": expected NAME=TARGET'),
            (["--policy", "/nonexistent/p.toml"], {}, "cannot be read"),
            ([], {"PODSELF_MIN_WORKERS": "9" * 30}, "min_workers must be a whole number from 1"),
            (["--set", "threads_per_cpu=5000"], {}, "from 1 to 1024"),
            (["--shell", "--prefix", "X'; touch pwned; '"], {}, "must start a shell variable"),
            (["--env", "--prefix", "A B"], {}, "--prefix 'A B': must start a shell variable"),
            (["--shell", "--prefix", "1X_"], {}, "must start a shell variable"),
        ],
    )
    def test_exit_2(
        self,
        use_env: UseEnv,
        capsys: pytest.CaptureFixture[str],
        args: list[str],
        env: dict[str, str],
        message: str,
    ) -> None:
        """Each bad option or knob is reported on stderr with exit code 2."""
        use_env(env)
        assert main(["tune", *args]) == 2
        err = capsys.readouterr().err
        assert err.startswith("podself tune: ")
        assert message in err

    def test_formats_are_exclusive(self) -> None:
        """--json and --env cannot be combined."""
        with pytest.raises(SystemExit) as caught:
            main(["tune", "--json", "--env"])
        assert caught.value.code == 2


@pytest.mark.usefixtures("no_exec")
class TestExecInProcess:
    """``podself exec`` fills placeholders and env, then execs (captured here)."""

    @pytest.mark.parametrize(("limits", "expected"), SEED_CASES)
    def test_placeholders(
        self, tmp_path: Path, use_env: UseEnv, limits: dict[str, str], expected: dict[str, int]
    ) -> None:
        """{workers} {cache_mb} {connections} take the seed's values."""
        use_env(pod_env(tmp_path, limits=limits))
        captured = run_exec(
            ["--", "./app", "--workers={workers}", "--cache-size={cache_mb}", "{connections}"]
        )
        assert captured.file == "./app"
        assert captured.argv == [
            "./app",
            f"--workers={expected['workers']}",
            f"--cache-size={expected['cache_mb']}",
            str(expected["connections"]),
        ]

    def test_env_for_child(self, tmp_path: Path, use_env: UseEnv) -> None:
        """The child gets WEB_CONCURRENCY, the *_NUM_THREADS trio, GOMAXPROCS and GOMEMLIMIT."""
        use_env(pod_env(tmp_path, limits={"cpu": "2", "memory": "2Gi"}))
        env = run_exec(["--", "app"]).env
        assert {k: env[k] for k in ("WEB_CONCURRENCY", "OMP_NUM_THREADS", "GOMAXPROCS")} == {
            "WEB_CONCURRENCY": "2",
            "OMP_NUM_THREADS": "1",
            "GOMAXPROCS": "2",
        }
        assert (env["MKL_NUM_THREADS"], env["OPENBLAS_NUM_THREADS"]) == ("1", "1")
        assert env["GOMEMLIMIT"] == "1843MiB"
        assert "JAVA_TOOL_OPTIONS" not in env
        assert env["RESOURCE_CPU_LIMIT_MILLICORES"] == "2000"

    @pytest.mark.parametrize(("memory", "heap_mb"), HEAP_CASES)
    def test_java(self, tmp_path: Path, use_env: UseEnv, memory: str, heap_mb: int) -> None:
        """--java adds the seed's heap flags and {heap_mb}/{gc_threads} fill in."""
        use_env(pod_env(tmp_path, limits={"cpu": "1", "memory": memory}))
        captured = run_exec(
            ["--java", "--", "java", "-Xmx{heap_mb}m", "-XX:ParallelGCThreads={gc_threads}"]
        )
        assert captured.argv[1:] == [f"-Xmx{heap_mb}m", "-XX:ParallelGCThreads=1"]
        assert captured.env["JAVA_TOOL_OPTIONS"] == (
            f"-Xmx{heap_mb}m -Xms{heap_mb}m -XX:ParallelGCThreads=1"
        )

    def test_user_env_is_kept(
        self, tmp_path: Path, use_env: UseEnv, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A variable the user already set is never overridden; --verbose says so."""
        env = pod_env(tmp_path, limits={"cpu": "2", "memory": "2Gi"})
        env.update({"WEB_CONCURRENCY": "7", "JAVA_TOOL_OPTIONS": "-Xmx1g"})
        use_env(env)
        captured = run_exec(["--verbose", "--java", "--", "app"])
        assert (captured.env["WEB_CONCURRENCY"], captured.env["JAVA_TOOL_OPTIONS"]) == (
            "7",
            "-Xmx1g",
        )
        err = capsys.readouterr().err
        assert "keeping WEB_CONCURRENCY=7 (already set; plan says 2)" in err
        assert "keeping JAVA_TOOL_OPTIONS=-Xmx1g" in err
        assert "GOMAXPROCS=2  [cpus=2:" in err

    def test_user_python_cpu_count_is_kept(self, tmp_path: Path, use_env: UseEnv) -> None:
        """PYTHON_CPU_COUNT / LOKY_MAX_CPU_COUNT set by the user win over the plan."""
        env = pod_env(tmp_path, limits={"cpu": "3", "memory": "1Gi"})
        env["PYTHON_CPU_COUNT"] = "7"
        use_env(env)
        captured = run_exec(["--", "app"])
        assert (captured.env["PYTHON_CPU_COUNT"], captured.env["LOKY_MAX_CPU_COUNT"]) == ("7", "3")

    def test_literal_braces_and_options_after_command(
        self, tmp_path: Path, use_env: UseEnv
    ) -> None:
        """{{ }} stay literal and options after the command belong to it."""
        use_env(pod_env(tmp_path, limits={"cpu": "1", "memory": "1Gi"}))
        captured = run_exec(["sh", "-c", 'echo "{{\\"w\\": {workers}}}"', "--java"])
        assert captured.argv == ["sh", "-c", 'echo "{\\"w\\": 1}"', "--java"]
        assert "JAVA_TOOL_OPTIONS" not in captured.env

    def test_set_knob(self, tmp_path: Path, use_env: UseEnv) -> None:
        """--set applies a policy knob before filling the command."""
        use_env(pod_env(tmp_path, limits={"cpu": "1500m", "memory": "1Gi"}))
        captured = run_exec(["--set", "rounding=ceil", "--", "app", "{workers}"])
        assert captured.argv == ["app", "2"]


class TestExecErrors:
    """Usage errors exit 2, a missing command 127, an unrunnable one 126."""

    def test_unknown_placeholder(
        self, tmp_path: Path, use_env: UseEnv, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """An unknown {name} exits 2 and lists the known placeholders."""
        use_env(pod_env(tmp_path, limits={"cpu": "1", "memory": "1Gi"}))
        assert main(["exec", "--", "app", "--cores={cores}"]) == 2
        err = capsys.readouterr().err
        assert "unknown placeholder {cores}" in err
        assert "{workers}, {threads}, {cache_mb}, {connections}, {heap_mb}, {gc_threads}" in err

    @pytest.mark.parametrize("args", [[], ["--"], ["--java", "--"]])
    def test_no_command(self, capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
        """Without a command exec exits 2."""
        assert main(["exec", *args]) == 2
        assert "no command given" in capsys.readouterr().err

    def test_command_not_found(self, capsys: pytest.CaptureFixture[str]) -> None:
        """A missing program exits 127 like a shell."""
        assert main(["exec", "--", "podself-test-no-such-program-xyz"]) == 127
        assert "podself-test-no-such-program-xyz: command not found" in capsys.readouterr().err

    def test_not_executable(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A file without execute permission exits 126."""
        script = tmp_path / "script.sh"
        script.write_text("echo hi\n")
        script.chmod(0o644)
        if os.access(script, os.X_OK):  # root may execute anything with any x bit; none here
            pytest.skip("this user can execute a file without x bits")
        assert main(["exec", "--", str(script)]) == 126
        assert "permission denied" in capsys.readouterr().err

    def test_bad_knob(self, use_env: UseEnv, capsys: pytest.CaptureFixture[str]) -> None:
        """A bad PODSELF_* knob stops exec with exit 2 before anything runs."""
        use_env({"PODSELF_MIN_WORKERS": "-3"})
        assert main(["exec", "--", "true"]) == 2
        assert 'env PODSELF_MIN_WORKERS="-3"' in capsys.readouterr().err

    def test_deeply_nested_policy(
        self, tmp_path: Path, use_env: UseEnv, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A policy file nested past the parser's recursion is exit 2 with its name."""
        policy = tmp_path / "deep.json"
        policy.write_text("[" * 50_000)
        use_env({})
        assert main(["exec", "--policy", str(policy), "--", "true"]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f'podself exec: policy file "{policy}": not valid JSON')
        assert "Traceback" not in err


class TestExecPython313:
    def test_child_counts_the_plan_cpus(self, tmp_path: Path) -> None:
        """A real Python 3.13 child: os.cpu_count(), os.process_cpu_count() and
        multiprocessing.cpu_count() all answer the plan's CPU count, not the machine's."""
        python = python_313()
        if python is None:
            pytest.skip("no Python 3.13+ interpreter on this machine")
        env = pod_env(tmp_path, limits={"cpu": "2500m", "memory": "1Gi"})
        code = (
            "import os, multiprocessing; "
            "print(os.cpu_count(), os.process_cpu_count(), multiprocessing.cpu_count())"
        )
        done = subprocess_podself(["exec", "--", python, "-c", code], env)
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == ["3", "3", "3"]

    def test_on_the_emulator_with_unitless_names(self, tmp_path: Path) -> None:
        """A manifest a user would write: CPU_LIMIT/MEMORY_LIMIT from resourceFieldRefs without
        a divisor, `podself exec` as the entrypoint, a Python 3.13 app. The child counts the
        limit's CPUs (1 for 500m, not this machine's) and gets GOMEMLIMIT from the limit."""
        python = python_313()
        if python is None:
            pytest.skip("no Python 3.13+ interpreter on this machine")
        code = (
            "import os; print('result', os.process_cpu_count(), os.environ['LOKY_MAX_CPU_COUNT'], "
            "os.environ['GOMEMLIMIT'])"
        )
        manifest = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "sized"},
            "spec": {
                "restartPolicy": "Never",
                "containers": [
                    {
                        "name": "app",
                        "image": "python:3.13",
                        "command": [
                            sys.executable,
                            "-m",
                            "podself",
                            "exec",
                            "--",
                            python,
                            "-c",
                            code,
                        ],
                        "resources": {"limits": {"cpu": "500m", "memory": "512Mi"}},
                        "env": [
                            {
                                "name": "CPU_LIMIT",
                                "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}},
                            },
                            {
                                "name": "MEMORY_LIMIT",
                                "valueFrom": {"resourceFieldRef": {"resource": "limits.memory"}},
                            },
                        ],
                    }
                ],
            },
        }
        path = tmp_path / "pod.yaml"
        path.write_text(json.dumps(manifest))  # JSON is YAML
        podself_run = [sys.executable, "-m", "podself", "run", "--timeout", "60"]
        state = str(tmp_path / "state")
        done = subprocess.run(
            [*podself_run, "-f", str(path), "--state-dir", state, "--node-cpu", "64"],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        lines = [line for line in done.stdout.splitlines() if line.startswith("result ")]
        assert lines == ["result 1 1 460MiB"], (done.stdout, done.stderr)


class TestExecProcess:
    """End to end: a real ``podself exec`` process replaced by the command."""

    @pytest.mark.parametrize(("limits", "expected"), SEED_CASES)
    def test_echo_seed_values(
        self, tmp_path: Path, limits: dict[str, str], expected: dict[str, int]
    ) -> None:
        """``podself exec -- echo {workers} {cache_mb}`` prints the seed's numbers."""
        env = pod_env(tmp_path, limits=limits)
        done = subprocess_podself(["exec", "--", "echo", "{workers}", "{cache_mb}"], env)
        assert done.returncode == 0, done.stderr
        assert done.stdout == f"{expected['workers']} {expected['cache_mb']}\n"

    @pytest.mark.parametrize(("memory", "heap_mb"), HEAP_CASES)
    def test_java_tool_options(self, tmp_path: Path, memory: str, heap_mb: int) -> None:
        """The child sees JAVA_TOOL_OPTIONS with the seed's heap for 512Mi/2Gi/4Gi."""
        env = pod_env(tmp_path, limits={"cpu": "1000m", "memory": memory})
        done = subprocess_podself(
            ["exec", "--java", "--", "sh", "-c", 'printf %s "$JAVA_TOOL_OPTIONS"'], env
        )
        assert done.stdout == f"-Xmx{heap_mb}m -Xms{heap_mb}m -XX:ParallelGCThreads=1"

    def test_same_pid(self, tmp_path: Path) -> None:
        """The command replaces podself: it runs with podself's PID."""
        env = pod_env(tmp_path, limits={"cpu": "1", "memory": "1Gi"})
        full = {**env, "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        with subprocess.Popen(
            [sys.executable, "-m", "podself", "exec", "--", "sh", "-c", "echo $$"],
            env=full,
            stdout=subprocess.PIPE,
            text=True,
        ) as proc:
            out, _ = proc.communicate(timeout=60)
        assert out.strip() == str(proc.pid)

    def test_exit_code_passes_through(self, tmp_path: Path) -> None:
        """The command's exit status is the process's exit status."""
        env = pod_env(tmp_path, limits={"cpu": "1", "memory": "1Gi"})
        done = subprocess_podself(["exec", "--", "sh", "-c", "exit 7"], env)
        assert done.returncode == 7
