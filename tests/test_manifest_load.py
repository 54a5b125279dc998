"""Tests for podself.manifest.load: safe YAML/JSON loading with positions and limits."""

from __future__ import annotations

import contextlib
import json
import lzma
import os
import signal
import subprocess
import sys
import threading
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from podself.errors import ManifestError
from podself.manifest import load
from podself.manifest.load import (
    Document,
    Limits,
    LoadIssue,
    discover,
    load_documents,
    load_file,
    read_source,
    scan_documents,
    scan_file,
    split_field_path,
)

FIXTURES = Path(__file__).parent / "fixtures" / "manifests"

POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  containers:
  - name: app
    image: app:1
    env:
    - name: A
      value: "1"
    - name: K8S_POD_NAME
      valueFrom:
        fieldRef:
          fieldPath: metadata.name
"""


@contextlib.contextmanager
def _deadline(seconds: int = 10) -> Iterator[None]:
    """Fail instead of hanging when a read blocks (the bug these tests guard against)."""

    def expire(signum: int, frame: object) -> None:
        raise TimeoutError("blocked on a read")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _issue(items: list[Document | LoadIssue]) -> LoadIssue:
    assert items, "expected a load issue"
    last = items[-1]
    assert isinstance(last, LoadIssue), items
    return last


class TestImports:
    def test_import_podself_does_not_load_yaml(self) -> None:
        """import podself, and even the manifest modules, load PyYAML only when YAML is read."""
        code = (
            "import sys, podself, podself.manifest.lint, podself.manifest.report\n"
            "assert 'yaml' not in sys.modules, 'yaml imported'\n"
            "podself.manifest.lint.lint_text('{\"kind\": \"Pod\"}', 'a.json')\n"
            "assert 'yaml' not in sys.modules, 'yaml imported for JSON'\n"
            "podself.manifest.lint.lint_text('kind: Pod', 'a.yaml')\n"
            "assert 'yaml' in sys.modules\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr


class TestFieldPaths:
    def test_split(self) -> None:
        """Dots separate keys, [n] is an index and [key] a key."""
        assert split_field_path("spec.containers[0].env[12].name") == (
            "spec",
            "containers",
            0,
            "env",
            12,
            "name",
        )
        assert split_field_path("metadata.labels[app]") == ("metadata", "labels", "app")
        assert split_field_path("items[2]") == ("items", 2)
        assert split_field_path("") == ()


class TestYamlPositions:
    def test_scalar_points_at_value(self) -> None:
        """A scalar field is located at its value, 1-based."""
        (doc,) = load_documents(POD, "pod.yaml")
        line, column = doc.locate("spec.containers[0].env[1].valueFrom.fieldRef.fieldPath")
        assert (line, column) == (16, 22)
        assert POD.splitlines()[line - 1][column - 1 :] == "metadata.name"

    def test_block_points_at_key(self) -> None:
        """A mapping or list value is located at its key."""
        (doc,) = load_documents(POD, "pod.yaml")
        assert doc.locate("spec.containers[0].env[1].valueFrom") == (14, 7)
        assert doc.locate("spec.containers") == (7, 3)

    def test_sequence_item_points_at_item(self) -> None:
        """A list item is located where the item starts."""
        (doc,) = load_documents(POD, "pod.yaml")
        assert doc.locate("spec.containers[0].env[1]") == (13, 7)
        assert doc.locate(("spec", "containers", 0, "env", 0)) == (11, 7)

    def test_missing_path_falls_back_to_ancestor(self) -> None:
        """A path that does not exist resolves to its deepest existing ancestor."""
        (doc,) = load_documents(POD, "pod.yaml")
        assert doc.locate("spec.containers[0].env[1].valueFrom.fieldRef.apiVersion") == (15, 9)
        assert doc.locate("spec.containers[7].env") == (7, 3)
        assert doc.locate("") == (1, 1)

    def test_flow_style(self) -> None:
        """Positions work inside flow mappings too."""
        (doc,) = load_documents(POD, "pod.yaml")
        assert doc.locate("metadata.labels.app") == (5, 17)

    def test_documents_and_lines(self) -> None:
        """Each document knows its index and first line; empty documents are kept as None."""
        text = "---\n# c\na: 1\n---\n---\nb: [x]\n"
        docs = load_documents(text, "s.yaml")
        assert [(d.index, d.line, d.data) for d in docs] == [
            (0, 3, {"a": 1}),
            (1, 5, None),
            (2, 6, {"b": ["x"]}),
        ]

    def test_empty_input(self) -> None:
        """An empty or comment-only input has no documents."""
        assert load_documents("", "e.yaml") == []
        assert load_documents("# nothing\n", "e.yaml") == []

    def test_many_keys_are_indexed_once(self) -> None:
        """Locating every key of a big mapping walks the mapping once (it was once per key:
        18 s to lint a ConfigMap with 20,000 bad keys)."""
        pytest.importorskip("yaml")
        text = "data:\n" + "".join(f"  k{i}: v\n" for i in range(200))
        (doc,) = load_documents(text, "cm.yaml")
        walks = []

        class Counting(list):  # type: ignore[type-arg]
            def __iter__(self):  # type: ignore[no-untyped-def]
                walks.append(1)
                return super().__iter__()

        data_node = doc._locator.root.value[0][1]  # type: ignore[union-attr]
        data_node.value = Counting(data_node.value)
        located = [doc.locate(f"data.k{i}") for i in range(200)]
        assert located == [(i + 2, 6 + len(str(i))) for i in range(200)]
        assert len(walks) == 1


class TestYamlValues:
    def test_matches_pyyaml(self) -> None:
        """Data equals PyYAML's safe loader for ordinary manifests."""
        yaml = pytest.importorskip("yaml")
        assert [d.data for d in load_documents(POD)] == list(yaml.safe_load_all(POD))

    def test_plain_scalars_typed_as_kubectl(self) -> None:
        """Plain scalars resolve as go-yaml v2 and JSON give them to the API server (not by
        PyYAML's YAML 1.1 rules); quoted ones are strings."""
        text = (
            "x: [1, 2.5, true, null, ~, 0o17, 0x1f, '08', on, y, N, 08, 420.0, 1e3, 12:30, "
            "0644, 1_000, '1e3', \"y\"]\n"
        )
        (doc,) = load_documents(text)
        assert doc.data == {
            "x": [1, 2.5, True, None, None, 15, 31, "08", True, True, False, 8, 420, 1000,
                  "12:30", 420, 1000, "1e3", "y"]
        }  # fmt: skip

    def test_recorded_go_yaml_answers(self) -> None:
        """Every scalar recorded from kubectl's YAML reader (sigs.k8s.io/yaml on go-yaml v2),
        as a value and as a key, loads to the same JSON, or is refused where kubectl fails."""
        recorded = json.loads(
            lzma.decompress(
                (Path(__file__).parent / "fixtures" / "goyaml-scalars.json.xz").read_bytes()
            )
        )["cases"]
        checked = 0
        for case in recorded:
            text = case["scalar"]
            for doc, answer in (
                (f"v: {text}\n", case["as_value"]),
                (f"{text}: x\n", case["as_key"]),
            ):
                if answer.get("error", "").startswith("yaml:"):
                    continue  # not a plain scalar in that position
                items = list(scan_documents(doc, "s.yaml"))
                checked += 1
                if "error" in answer:
                    assert isinstance(items[-1], LoadIssue), (text, answer)
                    continue
                (loaded,) = items
                assert isinstance(loaded, Document), (text, loaded)
                expected = json.loads(answer["json"])
                assert json.dumps(loaded.data) == json.dumps(expected), (text, answer)
        assert checked > 10_000

    def test_block_scalars_are_strings(self) -> None:
        """Literal and folded blocks stay text whatever they hold."""
        (doc,) = load_documents("a: |\n  y\nb: >-\n  1e3\n")
        assert doc.data == {"a": "y\n", "b": "1e3"}

    def test_keys_typed_as_kubectl(self) -> None:
        """Plain keys become the strings sigs.k8s.io/yaml makes of them (y -> "true")."""
        (doc,) = load_documents("y: 1\n1e3: 2\n0o10: 3\n'n': 4\n")
        assert doc.data == {"true": 1, "1000": 2, "8": 3, "n": 4}
        assert doc.locate("true") == (1, 4)

    def test_explicit_tags(self) -> None:
        """!!str keeps text; !!int/!!float/!!bool resolve and must fit, as in go-yaml v2."""
        (doc,) = load_documents("a: !!str 12\nb: !!int '12'\nc: !!float 2\nd: !!bool yes\n")
        assert doc.data == {"a": "12", "b": 12, "c": 2, "d": True}
        issue = _issue(list(scan_documents("a: 1\nb: !!int abc\n", "t.yaml")))
        assert (issue.line, issue.column, issue.kind) == (2, 4, "syntax")
        assert issue.message == "invalid YAML: cannot decode !!str `abc` as a !!int"

    @pytest.mark.parametrize(
        ("text", "position", "message"),
        [
            ("a: 1\nb: .nan\n", (2, 4), "json: unsupported value: NaN (from '.nan')"),
            ("a: [1, -.inf]\n", (1, 8), "json: unsupported value: -Inf (from '-.inf')"),
            ("a: 1\n~: 2\n", (2, 1), "Unsupported map key of type: <nil>, key: <nil>"),
        ],
    )
    def test_values_json_cannot_carry(
        self, text: str, position: tuple[int, int], message: str
    ) -> None:
        """NaN, infinities and null keys end the stream with an issue at the scalar, as
        kubectl refuses them; no exception escapes."""
        issue = _issue(list(scan_documents(text, "n.yaml")))
        assert (issue.line, issue.column, issue.kind) == (*position, "syntax")
        assert issue.message.endswith(f"{message}; quote the value if text is meant")
        assert "error converting YAML to JSON" in issue.message

    def test_typed_scalars_recorded(self) -> None:
        """Each plain scalar that is not the text it looks like is recorded with its path and
        position; strings, quoted values and nulls are not."""
        text = "env:\n- name: A\n  value: y\n- value: '1'\nlabels: {on: x, k: 0o22}\nz: ~\n"
        (doc,) = load_documents(text)
        assert [(t.path, t.line, t.column, t.text, t.value, t.key) for t in doc.typed_scalars] == [
            (("env", 0, "value"), 3, 10, "y", True, False),
            (("labels", "true"), 5, 10, "on", "true", True),
            (("labels", "k"), 5, 20, "0o22", 18, False),
        ]
        assert doc.typed_scalars[0].note == (
            "`y` is the boolean true in Kubernetes YAML; quote it if a string is meant"
        )
        assert 'the string "true"' in doc.typed_scalars[1].note
        assert load_documents('{"a": true}', "a.json")[0].typed_scalars == ()

    def test_dates_and_binary_stay_text(self) -> None:
        """Dates and !!binary are kept as their text, as Kubernetes reads them."""
        (doc,) = load_documents("a: 2024-01-02\nb: !!binary aGk=\n")
        assert doc.data == {"a": "2024-01-02", "b": "aGk="}

    def test_merge_keys(self) -> None:
        """YAML merge keys are applied and merged fields are located at their anchor."""
        text = "base: &b {x: 1, w: 2}\nm:\n  <<: *b\n  w: 3\n"
        (doc,) = load_documents(text)
        assert doc.data["m"] == {"x": 1, "w": 3}
        assert doc.locate("m.w") == (4, 6)

    def test_unknown_tags_built_by_kind(self) -> None:
        """Unknown tags are not refused: a tagged scalar, list or map is built as plain data."""
        (doc,) = load_documents("a: !Ref x\nb: !Seq [1]\nc: !Map {k: v}\n")
        assert doc.data == {"a": "x", "b": [1], "c": {"k": "v"}}

    def test_shared_aliases_within_limit(self) -> None:
        """Moderate alias use is accepted and expanded."""
        (doc,) = load_documents("a: &a {k: v}\nb: *a\nc: [*a, *a]\n")
        assert doc.data == {"a": {"k": "v"}, "b": {"k": "v"}, "c": [{"k": "v"}, {"k": "v"}]}

    def test_pure_python_loader(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without LibYAML the pure PyYAML loader gives the same data and positions."""
        yaml = pytest.importorskip("yaml")
        monkeypatch.delattr(yaml, "CSafeLoader", raising=False)
        (doc,) = load_documents(POD, "pod.yaml")
        assert doc.data["spec"]["containers"][0]["env"][1]["name"] == "K8S_POD_NAME"
        assert doc.locate("spec.containers[0].env[1].valueFrom.fieldRef.fieldPath") == (16, 22)


class TestYamlProblems:
    def test_syntax_error_has_position(self) -> None:
        """Invalid YAML ends the stream with a syntax issue at file:line:column."""
        items = list(scan_documents("a: 1\n---\nb: [1\n", "bad.yaml"))
        assert isinstance(items[0], Document)
        issue = _issue(items)
        assert (issue.source, issue.line, issue.kind) == ("bad.yaml", 4, "syntax")
        assert issue.message.startswith("invalid YAML: ")
        assert str(issue).startswith("bad.yaml:4:1: invalid YAML")

    def test_bad_indent(self) -> None:
        """A mis-indented key is reported on its own line."""
        issue = _issue(list(scan_documents("a:\n  b: 1\n c: 2\n", "i.yaml")))
        assert (issue.line, issue.column) == (3, 2)

    def test_undefined_alias(self) -> None:
        """An alias without an anchor is a syntax issue."""
        issue = _issue(list(scan_documents("a: *nope\n", "u.yaml")))
        assert issue.kind == "syntax"
        assert "undefined alias" in issue.message

    def test_unhashable_key(self) -> None:
        """A list used as a mapping key is refused with its position."""
        issue = _issue(list(scan_documents("x: 1\n? [a]\n: 2\n", "k.yaml")))
        assert (issue.line, issue.column, issue.kind) == (2, 3, "syntax")

    def test_control_character(self) -> None:
        """A control character is reported where it occurs."""
        issue = _issue(list(scan_documents("a: 1\nb: \x01\n", "c.yaml")))
        assert (issue.line, issue.kind) == (2, "syntax")

    def test_load_documents_raises(self) -> None:
        """load_documents turns an issue into ManifestError naming file:line."""
        with pytest.raises(ManifestError, match=r"^bad\.yaml:1:\d+: invalid YAML"):
            load_documents("a: b: c\n", "bad.yaml")


class TestLimits:
    def test_billion_laughs_refused(self) -> None:
        """A billion-laughs document is refused without being expanded."""
        text = (FIXTURES / "bomb.yaml").read_text()
        issue = _issue(list(scan_documents(text, "bomb.yaml")))
        assert issue.kind == "limit"
        assert (issue.line, issue.column) == (2, 1)
        assert "alias bomb" in issue.message
        assert "490,329,036 extra nodes" in issue.message

    def test_alias_limit_is_configurable(self) -> None:
        """The alias budget is a limit of the call."""
        text = "a: &a [1, 2, 3]\nb: [*a, *a, *a]\n"
        assert load_documents(text, limits=Limits(max_alias_nodes=100))
        issue = _issue(list(scan_documents(text, limits=Limits(max_alias_nodes=5))))
        assert issue.kind == "limit"

    def test_recursive_alias_refused(self) -> None:
        """An alias inside its own anchor is refused."""
        issue = _issue(list(scan_documents("a: &a [1, *a]\n", "r.yaml")))
        assert (issue.kind, issue.message) == ("limit", "YAML aliases refer to themselves")

    def test_size_limit_text(self) -> None:
        """Text over max_bytes is refused before parsing."""
        issue = _issue(list(scan_documents("a: " + "x" * 200, limits=Limits(max_bytes=100))))
        assert issue.kind == "limit"
        assert "larger than the limit of 100 bytes" in issue.message

    def test_size_limit_counts_bytes(self) -> None:
        """Multi-byte characters count as bytes, not characters."""
        text = "a: " + "한" * 40  # 123 bytes, 43 characters
        assert _issue(list(scan_documents(text, limits=Limits(max_bytes=100)))).kind == "limit"
        assert load_documents(text, limits=Limits(max_bytes=200))

    def test_size_limit_file(self, tmp_path: Path) -> None:
        """A file over the limit is refused after reading at most limit + 1 bytes."""
        path = tmp_path / "big.yaml"
        path.write_text("a: " + "x" * 5000)
        with pytest.raises(ManifestError, match="larger than the limit of 1000 bytes"):
            load_file(path, limits=Limits(max_bytes=1000))

    def test_document_limit(self) -> None:
        """Documents over max_documents end the stream with a limit issue at the first one
        too many; empty documents count, in YAML and JSON alike."""
        limits = Limits(max_documents=3)
        items = list(scan_documents("---\n" * 10, "e.yaml", limits=limits))
        assert [type(i) for i in items] == [Document] * 3 + [LoadIssue]
        issue = _issue(items)
        assert issue.kind == "limit"
        assert "more than 3 documents" in issue.message
        items = list(scan_documents("{}\n" * 5, "e.json", limits=limits))
        assert len(items) == 4
        assert (_issue(items).kind, _issue(items).line) == ("limit", 4)
        assert len(load_documents("---\n" * 3, limits=limits)) == 3

    def test_json_stream_read_one_document_at_a_time(self) -> None:
        """A JSON stream is not held whole before its first document is yielded (20,000 empty
        objects took 7.7 MB that way, in .json files and JSON-looking .yaml files alike)."""
        text = "{}\n" * 20_000
        for source in ("s.json", "s.yaml"):
            tracemalloc.start()
            try:
                count = sum(isinstance(item, Document) for item in scan_documents(text, source))
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
            assert count == 20_000
            assert peak < 3_000_000, source

    def test_deep_nesting_refused(self) -> None:
        """Nesting deeper than the parser allows is an input-limit issue, not a crash."""
        issue = _issue(list(scan_documents("a: " + "[" * 5000 + "]" * 5000, "deep.yaml")))
        assert (issue.kind, issue.message) == ("limit", "YAML nesting is too deep")
        block = "".join("  " * i + "k:\n" for i in range(3000)) + "  " * 3000 + "v\n"
        issue = _issue(list(scan_documents(block, "deep.yaml")))
        assert (issue.kind, issue.message) == ("limit", "YAML nesting is too deep")
        deep_json = "[" * 100_000 + "]" * 100_000
        issue = _issue(list(scan_documents(deep_json, "deep.json")))
        assert issue.kind == "limit"


class TestEncoding:
    def test_bytes_utf8_with_bom(self) -> None:
        """UTF-8 bytes, with or without a BOM, are accepted."""
        (doc,) = load_documents("\ufeffa: 한\n".encode())
        assert doc.data == {"a": "한"}

    def test_invalid_utf8(self) -> None:
        """Bytes that are not UTF-8 are an encoding issue at their line."""
        issue = _issue(list(scan_documents(b"a: 1\nb: \xff\n", "x.yaml")))
        assert (issue.kind, issue.line, issue.column) == ("encoding", 2, 4)


class TestSurrogates:
    def test_json_lone_surrogate_becomes_replacement(self) -> None:
        """A lone surrogate escape (valid JSON) reads as U+FFFD, as Go's encoding/json reads
        it for kubectl, in keys and values; a valid pair is one character."""
        text = r'{"a\udcff": ["x\udcffy", "\ud83d\ude00", "\ud83d\ud83d", "\\udcff"]}'
        (doc,) = load_documents(text, "s.json")
        assert doc.data == {"a\ufffd": ["x\ufffdy", "\U0001f600", "\ufffd\ufffd", "\\udcff"]}
        json.dumps(doc.data, ensure_ascii=False).encode()  # encodable as UTF-8

    def test_yaml_surrogate_escape_is_invalid(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """In YAML the escape is invalid, as in kubectl's YAML reader, with LibYAML or not."""
        yaml = pytest.importorskip("yaml")
        text = 'a: 1\nb: ["ok", "x\\udcffy"]\n'
        issue = _issue(list(scan_documents(text, "s.yaml")))
        assert (issue.kind, issue.line) == ("syntax", 2)
        assert "invalid Unicode character escape" in issue.message
        monkeypatch.delattr(yaml, "CSafeLoader", raising=False)
        monkeypatch.setattr(yaml, "__with_libyaml__", False)
        issue = _issue(list(scan_documents(text, "s.yaml")))
        assert (issue.kind, issue.line, issue.column) == ("syntax", 2, 11)
        assert "invalid Unicode character escape" in issue.message
        (doc,) = load_documents('a: "\\U0001F600 \\u00e9"\n', "ok.yaml")
        assert doc.data == {"a": "\U0001f600 \u00e9"}


class TestJson:
    def test_positions(self) -> None:
        """JSON documents locate fields at keys (blocks) and values (scalars)."""
        data = json.loads(json.dumps({"spec": {"containers": [{"name": "a", "env": []}]}}))
        text = json.dumps(data, indent=2)
        (doc,) = load_documents(text, "p.json")
        assert doc.data == data
        assert doc.locate("spec.containers[0].name") == (5, 17)
        assert doc.locate("spec.containers") == (3, 5)
        assert doc.locate("spec.containers[0]") == (4, 7)
        assert doc.locate("spec.missing") == (2, 3)

    def test_duplicate_keys_point_at_the_last(self) -> None:
        """The last of duplicate keys wins, in the data and in positions."""
        (doc,) = load_documents('{"a": 1,\n "a": 2}', "d.json")
        assert doc.data == {"a": 2}
        assert doc.locate("a") == (2, 7)

    def test_many_locations_scan_each_value_once(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Locating every item of a big list decodes each item about once (it was once per
        earlier item: minutes for a hostile manifest with many findings)."""
        text = json.dumps({"items": [{"k": i, "v": [i]} for i in range(300)]}, indent=1)
        (doc,) = load_documents(text, "many.json")
        decodes = []
        real = load._DECODER

        class Counting:
            def raw_decode(self, text: str, pos: int) -> tuple[object, int]:
                decodes.append(pos)
                return real.raw_decode(text, pos)

        monkeypatch.setattr(load, "_DECODER", Counting())
        lines = [doc.locate(f"items[{i}].v") for i in range(300)]
        assert lines == [(5 + 6 * i, 4) for i in range(300)]
        assert len(decodes) <= 4 * 300  # the list once, then each item's two members

    def test_stream_of_values(self) -> None:
        """Several JSON values in a row are separate documents."""
        docs = load_documents('{"a": 1}\n{"b": 2}\n[3]\n', "s.json")
        assert [(d.index, d.line, d.data) for d in docs] == [
            (0, 1, {"a": 1}),
            (1, 2, {"b": 2}),
            (2, 3, [3]),
        ]

    def test_syntax_error(self) -> None:
        """Invalid JSON is a syntax issue with JSON's own line and column."""
        items = list(scan_documents('{"a": 1}\n{"b": [1,]}', "x.json"))
        issue = _issue(items)
        assert (issue.line, issue.column, issue.kind) == (2, 10, "syntax")
        assert issue.message.startswith("invalid JSON: ")

    def test_flow_yaml_is_not_json(self) -> None:
        """Input that only looks like JSON is read as YAML when it is not a .json file."""
        pytest.importorskip("yaml")
        (doc,) = load_documents("{a: 1, b: [x]}", "flow.yaml")
        assert doc.data == {"a": 1, "b": ["x"]}

    def test_json_without_pyyaml(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """JSON needs no PyYAML; YAML without it is a dependency issue naming the extra."""
        monkeypatch.setitem(sys.modules, "yaml", None)
        (doc,) = load_documents('{"kind": "Pod"}', "p.json")
        assert doc.data == {"kind": "Pod"}
        issue = _issue(list(scan_documents("kind: Pod\n", "p.yaml")))
        assert issue.kind == "dependency"
        assert "pip install 'podself[yaml]'" in issue.message
        assert not load.yaml_available()


class TestFiles:
    def test_discover_folders(self) -> None:
        """Folders yield their manifests recursively and sorted, skipping hidden folders."""
        found = [
            Path(p).relative_to(FIXTURES / "tree").as_posix() for p in discover([FIXTURES / "tree"])
        ]
        assert found == [
            "apps/nested/job.json",
            "apps/nested/worker.yml",
            "apps/web.yaml",
            "config.yaml",
        ]

    def test_discover_passes_files_and_stdin(self) -> None:
        """Files (any extension) and '-' pass through in order."""
        assert list(discover(["-", "notes.txt"])) == ["-", "notes.txt"]

    def test_load_file_and_stdin(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """load_file reads a path, or stdin for '-' under the name <stdin>."""
        (doc,) = load_file(FIXTURES / "tree" / "apps" / "web.yaml")
        assert doc.data["metadata"]["name"] == "web"

        class FakeStdin:
            buffer = __import__("io").BytesIO(b"kind: Pod\n")

        monkeypatch.setattr(sys, "stdin", FakeStdin())
        (doc,) = load_file("-")
        assert (doc.source, doc.data) == ("<stdin>", {"kind": "Pod"})

    def test_folder_skips_special_files(self, tmp_path: Path) -> None:
        """In a folder only regular files (or links to them) are taken: a FIFO named *.yaml
        would block the reader until a writer came."""
        (tmp_path / "a.yaml").write_text("kind: Pod\n")
        os.mkfifo(tmp_path / "fifo.yaml")
        os.symlink("a.yaml", tmp_path / "link.yaml")
        os.symlink("missing.yaml", tmp_path / "dangling.yaml")
        with _deadline():
            found = sorted(os.path.basename(p) for p in discover([tmp_path]))
            assert found == ["a.yaml", "dangling.yaml", "link.yaml"]
            with pytest.raises(ManifestError, match=r"dangling\.yaml"):
                load_file(next(p for p in discover([tmp_path]) if "dangling" in p))

    def test_fifo_swapped_in_after_discovery(self, tmp_path: Path) -> None:
        """A found file that became a FIFO is refused at once, not waited on."""
        path = tmp_path / "a.yaml"
        path.write_text("kind: Pod\n")
        (found,) = discover([tmp_path])
        path.unlink()
        os.mkfifo(path)
        with _deadline(), pytest.raises(OSError, match="not a regular file"):
            read_source(found)

    def test_explicit_fifo_is_read_up_to_the_limit(self, tmp_path: Path) -> None:
        """A pipe named on the command line is read (that is what it is for), bounded."""
        path = tmp_path / "pipe.yaml"
        os.mkfifo(path)

        def write(data: bytes) -> None:
            with contextlib.suppress(BrokenPipeError), open(path, "wb") as pipe:
                pipe.write(data)

        with _deadline():
            writer = threading.Thread(target=write, args=(b"kind: Pod\n",))
            writer.start()
            (doc,) = load_file(str(path))
            writer.join()
            assert doc.data == {"kind": "Pod"}
            writer = threading.Thread(target=write, args=(b"x" * 100_000,))
            writer.start()
            assert read_source(str(path), limits=Limits(max_bytes=1000)) is None
            writer.join()

    def test_folder_depth_and_loops_bounded(self, tmp_path: Path) -> None:
        """Symlinked folders are not followed (no loop), and nesting is bounded."""
        (tmp_path / "a.yaml").write_text("kind: Pod\n")
        os.symlink(".", tmp_path / "loop")
        assert [os.path.basename(p) for p in discover([tmp_path])] == ["a.yaml"]
        deep = tmp_path / "d"
        (deep / "1" / "2" / "3" / "4").mkdir(parents=True)
        assert list(discover([deep], max_depth=4)) == []
        with pytest.raises(OSError, match="nested more than 3 levels"):
            list(discover([deep], max_depth=3))

    def test_unreadable_file(self, tmp_path: Path) -> None:
        """A missing file raises ManifestError naming it."""
        with pytest.raises(ManifestError, match=r"cannot read .*missing\.yaml"):
            load_file(tmp_path / "missing.yaml")

    def test_regular_yaml_file_is_parsed_as_it_is_read(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A long YAML file yields its first document before the rest of it is read, so memory
        does not grow with the stream."""
        path = tmp_path / "long.yaml"
        path.write_text("---\nkind: Pod\n" * 1000)
        read: list[int] = []
        real_read = os.read

        def counting_read(fd: int, size: int) -> bytes:
            data = real_read(fd, size)
            read.append(len(data))
            return data

        monkeypatch.setattr(load, "_CHUNK", 256)
        monkeypatch.setattr(os, "read", counting_read)
        items = scan_file(path)
        first = next(items)
        assert isinstance(first, Document)
        assert first.data == {"kind": "Pod"}
        assert 0 < sum(read) < path.stat().st_size // 10
        assert sum(1 for _ in items) == 999

    @pytest.mark.parametrize(
        "data",
        [
            pytest.param(b"a: 1\n---\nb: [1, 2\n---\nc: 3\n", id="syntax"),
            pytest.param(b"a: 1\n" * 50 + b"---\nb: \x01x\n", id="control-character"),
            pytest.param(b"a: 1\n" * 50 + b"---\nb: caf\xc3\xa9\n---\nc: \xff\n", id="not-utf8"),
            pytest.param(b"a: " + "\u00e9".encode() * 40 + b"\n", id="utf8-across-chunks"),
            pytest.param(b"\xef\xbb\xbfa: 1\n---\nb: 2\n", id="bom"),
            pytest.param(b"a: 1\n---\nx: &a [1, 1, 1]\ny: [*a, *a, *a, *a]\n", id="aliases"),
            pytest.param(b"a: &x [*x]\n", id="alias-loop"),
            pytest.param(b"---\n" * 20, id="too-many-documents"),
            pytest.param(b"a: {labels: {x: yes}}\n", id="typed-scalar"),
            pytest.param(b"a: 1\n" * 3000, id="too-large"),
            pytest.param(b'{"kind": "Pod"}\n{"kind": "Job"}\n', id="json-in-yaml-file"),
        ],
    )
    @pytest.mark.parametrize("through", ["file", "pipe"])
    def test_streamed_file_reads_as_the_whole_text(
        self, data: bytes, through: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A file or pipe parsed chunk by chunk gives the same documents and the same problem
        at the same place as its whole text."""
        monkeypatch.setattr(load, "_CHUNK", 7)
        limits = Limits(max_bytes=10_000, max_documents=10, max_alias_nodes=5)
        if through == "file":
            path = tmp_path / "in.yaml"
            path.write_bytes(data)
        else:
            path = Path(self._pipe(data, tmp_path))

        def shown(items: Iterator[Document | LoadIssue]) -> list[object]:
            return [
                str(x)
                if isinstance(x, LoadIssue)
                else (x.index, x.line, x.column, x.offset, x.data, x.typed_scalars)
                for x in items
            ]

        streamed = shown(scan_file(path, limits=limits))
        whole = shown(scan_documents(data, str(path), limits=limits))
        if "not UTF-8" in str(whole[-1]):
            # The documents before the bad byte were parsed before it was read.
            assert streamed[-1:] == whole
            assert streamed[:-1]
            assert all(isinstance(x, tuple) for x in streamed[:-1])
        else:
            assert streamed == whole

    @staticmethod
    def _pipe(data: bytes, tmp_path: Path) -> str:
        """A named pipe fed with ``data`` in small pieces by a thread."""
        fifo = tmp_path / "in.yaml"
        os.mkfifo(fifo)

        def feed() -> None:
            with open(fifo, "wb") as out:
                for at in range(0, len(data), 5):
                    out.write(data[at : at + 5])
                    out.flush()

        threading.Thread(target=feed, daemon=True).start()
        return str(fifo)

    def test_pipe_is_parsed_as_it_arrives(self, tmp_path: Path) -> None:
        """The first document of a pipe is read before the writer has finished (stdin,
        ``<(helm template .)``): a long stream is never held whole."""
        fifo = tmp_path / "in.yaml"
        os.mkfifo(fifo)
        release = threading.Event()

        def feed() -> None:
            with open(fifo, "wb") as out:
                out.write(b"kind: Pod\n---\n")
                out.flush()
                release.wait(10)
                out.write(b"kind: Job\n")

        writer = threading.Thread(target=feed, daemon=True)
        writer.start()
        with _deadline():
            items = scan_file(str(fifo))
            first = next(items)
            assert isinstance(first, Document)
            assert first.data == {"kind": "Pod"}
            assert writer.is_alive()  # still waiting to write the rest
            release.set()
            assert [d.data for d in items if isinstance(d, Document)] == [{"kind": "Job"}]

    def test_stdin_pipe_is_streamed(self, tmp_path: Path) -> None:
        """``podself lint -`` reads a pipe as it arrives and places errors on their line."""
        text = "a: 1\n---\n" * 3 + "b: [1\n"
        done = subprocess.run(
            [sys.executable, "-m", "podself", "lint", "-"],
            input=text.encode(),
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 1
        assert done.stdout.decode().startswith("<stdin>:8:1: error invalid-yaml"), done.stdout


_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(10**6), 10**6), st.text(max_size=12))
_TREES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)


class TestProperties:
    @settings(max_examples=150, deadline=None)
    @given(st.text(max_size=300))
    def test_any_text_never_raises(self, text: str) -> None:
        """Arbitrary text yields documents and at most one final issue, never an exception."""
        items = list(scan_documents(text, "fuzz.yaml"))
        issues = [i for i in items if isinstance(i, LoadIssue)]
        assert len(issues) <= 1
        if issues:
            assert items[-1] is issues[0]
            assert issues[0].line >= 1
            assert issues[0].column >= 1

    @settings(max_examples=100, deadline=None)
    @given(_TREES)
    def test_json_round_trip(self, data: object) -> None:
        """Any JSON value loads back equal, from JSON and from YAML."""
        yaml = pytest.importorskip("yaml")
        (doc,) = load_documents(json.dumps(data), "d.json")
        assert doc.data == data
        if data is not None:
            # Every scalar quoted and tagged: plain text would be typed the go-yaml way.
            (doc,) = load_documents(yaml.safe_dump(data, default_style='"'), "d.yaml")
            assert doc.data == data
