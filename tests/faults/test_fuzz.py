"""Bad input, fuzzed (hypothesis; `make fuzz` runs 10 000 cases per test, `make test` a few hundred): scenario
YAML, knowledge files, run directories, policy documents and APKs. Whatever the bytes, the reader either
accepts them or raises a MonitorError that names the file (and, for text files, the line) and says how to fix
it — never another exception."""

from __future__ import annotations

import json
import random
import shutil
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from faults.faultkit import fuzz_profile
from monitor.data import DATA_DIR, DATA_FILES, load_data
from monitor.errors import DataFileError, MonitorError, RunDirError

pytestmark = pytest.mark.fuzz

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = (ROOT / "scenarios" / "agree.yaml").read_text(encoding="utf-8")
# Knowledge files small enough to validate thousands of times; the big ones share their loader and models.
KINDS = ("consent_words", "protocols", "unpin", "attribution", "platform", "matching", "packers", "self_start", "rules")


def profile() -> settings:
    return settings.get_profile(fuzz_profile())


def _mutations(text: str) -> st.SearchStrategy[str]:
    """The text with a few edits where typos happen: a character dropped, doubled, swapped for YAML
    punctuation or random text; lines dropped or repeated; indentation changed."""
    punctuation = st.sampled_from([":", "-", " ", "\n", "  ", "'", '"', "{", "}", "[", "]", "#", "&a", "*a", "!!python/object:os.system",
                                   "\t", "?", "|", ">", "%", "@", "`", "null", "~", "1e999", "-1", "同意", "\x00", "\ufeff"])
    edit = st.tuples(st.integers(0, max(len(text) - 1, 0)), st.integers(0, 8), st.one_of(punctuation, st.text(max_size=12)))

    def apply(edits: list[tuple[int, int, str]]) -> str:
        out = text
        for at, drop, insert in edits:
            at = min(at, len(out))
            out = out[:at] + insert + out[at + drop:]
        return out

    return st.lists(edit, min_size=1, max_size=6).map(apply)


def _yaml_values() -> st.SearchStrategy[object]:
    scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=20))
    return st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                         st.dictionaries(st.text(max_size=10), inner, max_size=4)), max_leaves=20)


def _yaml_texts(seed_text: str) -> st.SearchStrategy[str]:
    structured = _yaml_values().map(lambda value: yaml.safe_dump(value, allow_unicode=True))
    return st.one_of(_mutations(seed_text), structured, st.text(max_size=200),
                     st.binary(max_size=200).map(lambda data: data.decode("latin-1")))


def _assert_names_file_line_fix(error: MonitorError, path: Path, text: str) -> None:
    assert str(path) in error.message, error.message
    assert error.hint, f"no fix given for: {error.message}"
    if text.strip() and "cannot read" not in error.message:
        assert f"{path}:" in error.message, f"no line in: {error.message}"


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
    return path


@given(text=_yaml_texts(SCENARIO))
def _scenario_case(text: str) -> None:
    from monitor.scenario.model import load_scenario

    with tempfile.TemporaryDirectory() as scratch:
        path = _write(Path(scratch), "scenario.yaml", text)
        try:
            load_scenario(path)
        except DataFileError as error:
            _assert_names_file_line_fix(error, path, text)


def test_fuzzed_scenario_yaml_is_accepted_or_named_with_file_line_and_fix():
    settings(profile())(_scenario_case)()


@given(kind=st.sampled_from(KINDS), data=st.data())
def _knowledge_case(kind: str, data: st.DataObject) -> None:
    seed = (DATA_DIR / DATA_FILES[kind][0]).read_text(encoding="utf-8")
    text = data.draw(_yaml_texts(seed))
    with tempfile.TemporaryDirectory() as scratch:   # a new path each time: load_data caches by path
        path = _write(Path(scratch), f"{kind}.yaml", text)
        try:
            load_data(kind, path)
        except DataFileError as error:
            _assert_names_file_line_fix(error, path, text)


def test_fuzzed_knowledge_files_are_accepted_or_named_with_file_line_and_fix():
    settings(profile())(_knowledge_case)()


@given(text=_yaml_texts("app_type: 地图导航\nnecessary:\n  - location\n  - device_id\nsdks:\n  - name: 高德地图\n"))
def _scope_case(text: str) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        path = _write(Path(scratch), "scope.yaml", text)
        try:
            load_data("scope", path)
        except DataFileError as error:
            _assert_names_file_line_fix(error, path, text)


def test_fuzzed_scope_files_are_accepted_or_named_with_file_line_and_fix():
    settings(profile())(_scope_case)()


# ---- policy documents --------------------------------------------------------------------------------

POLICY = next(iter(sorted((ROOT / "tests" / "policy" / "corpus").glob("*.html"))), None)


@given(data=st.one_of(st.binary(max_size=2000),
                      _mutations(POLICY.read_text(encoding="utf-8") if POLICY else "<p>隐私政策</p>").map(lambda t: t.encode("utf-8", "surrogatepass"))),
       suffix=st.sampled_from([".html", ".htm", ".txt", ".md", ".pdf", ""]))
def _policy_case(data: bytes, suffix: str) -> None:
    from monitor.policy.parse import declared_scope

    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / f"policy{suffix}"
        path.write_bytes(data)
        try:
            declared_scope(path)
        except MonitorError as error:
            assert str(path) in error.message and error.hint, error.message


def test_fuzzed_policy_documents_are_read_or_refused_by_name():
    settings(profile(), max_examples=min(profile().max_examples, 2_000) if fuzz_profile() == "fuzz-quick" else profile().max_examples)(_policy_case)()


# ---- APKs ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def apk_bytes() -> bytes:
    from support.apkbuild import ApkSpec, build_apk, missing_tools

    if missing_tools():
        pytest.skip(f"APK build tools missing: {', '.join(missing_tools())}")
    return build_apk(ApkSpec(package="com.example.fuzz", permissions=("android.permission.READ_PHONE_STATE",))).path.read_bytes()


def test_fuzzed_apks_are_read_or_refused_in_one_line(apk_bytes):
    from monitor.device.apk import read_apk_info

    @given(edits=st.lists(st.tuples(st.integers(0, len(apk_bytes) - 1), st.binary(min_size=1, max_size=8)), max_size=8),
           cut=st.one_of(st.none(), st.integers(0, len(apk_bytes))))
    def case(edits: list[tuple[int, bytes]], cut: int | None) -> None:
        data = bytearray(apk_bytes if cut is None else apk_bytes[:cut])
        for at, patch in edits:
            data[at: at + len(patch)] = patch
        with tempfile.TemporaryDirectory() as scratch:
            path = Path(scratch) / "app.apk"
            path.write_bytes(bytes(data))
            try:
                read_apk_info(path)
            except MonitorError as error:
                assert "app.apk" in error.message and error.hint and "\n" not in error.message, error.message

    settings(profile(), max_examples=min(profile().max_examples, 300) if fuzz_profile() == "fuzz-quick" else profile().max_examples)(case)()


# ---- run directories -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_run(tmp_path_factory) -> Path:
    """A real sealed run, written by the store's own writer and proxy-free flow files (no target needed)."""
    from monitor.store.writer import RunWriter

    out = tmp_path_factory.mktemp("fuzzrun") / "run"
    with RunWriter(out, run_info={"target": {"kind": "host"}}) as writer:
        for seq in range(30):
            writer.append({"source": "hook", "kind": "pi_read", "ts": 1_700_000_000_000_000_000 + seq * 1_000_000,
                           "pid": 1, "category": "device_id", "api": "TelephonyManager.getImei", "value": "867530912345675",
                           "stack": ["com.umeng.A.b(A.java:1)"], "process": "com.example.demo"})
    return out


RUN_FILES = ("events.jsonl", "run.json", "manifest.json", "flows.jsonl", "flows.mitm")


@st.composite
def _damage(draw: st.DrawFn) -> tuple[str, str, object]:
    name = draw(st.sampled_from(RUN_FILES))
    how = draw(st.sampled_from(["delete", "replace-line", "append", "bytes", "schema", "symlink"]))
    if how == "schema":
        return name, how, draw(st.one_of(st.integers(), st.text(max_size=5), st.none()))
    return name, how, draw(st.binary(max_size=300))


def _apply(run: Path, damage: tuple[str, str, object]) -> None:
    name, how, value = damage
    path = run / name
    if (path.is_symlink() or (run / "run.json").is_symlink()) and how not in ("delete", "symlink"):
        return  # the harness itself must not read through a link it planted
    if how == "delete":
        path.unlink(missing_ok=True)
    elif how == "replace-line" and path.exists():
        lines = path.read_bytes().splitlines(keepends=True) or [b""]
        lines[random.Random(len(value)).randrange(len(lines))] = value + b"\n"  # type: ignore[operator]
        path.write_bytes(b"".join(lines))
    elif how == "append":
        with open(path, "ab") as handle:
            handle.write(value)  # type: ignore[arg-type]
    elif how == "bytes":
        path.write_bytes(value)  # type: ignore[arg-type]
    elif how == "schema":
        try:
            info = json.loads((run / "run.json").read_text())
        except (OSError, ValueError):
            return  # run.json already damaged or gone
        if isinstance(info, dict):
            info["schema"] = value
            (run / "run.json").write_text(json.dumps(info))
    elif how == "symlink":
        path.unlink(missing_ok=True)
        path.symlink_to("/dev/zero" if len(value) % 2 else "/etc/hostname")  # type: ignore[arg-type]


def test_fuzzed_run_directories_are_read_or_refused_naming_the_file(small_run):
    from monitor.store.flows import load_flows
    from monitor.store.manifest import verify_run
    from monitor.store.reader import read_run

    @given(damages=st.lists(_damage(), min_size=1, max_size=3))
    def case(damages: list[tuple[str, str, object]]) -> None:
        with tempfile.TemporaryDirectory() as scratch:
            run = Path(scratch) / "run"
            shutil.copytree(small_run, run, symlinks=True)
            for damage in damages:
                _apply(run, damage)
            for step in (read_run, verify_run, load_flows):
                try:
                    step(run)
                except MonitorError as error:
                    assert str(run) in error.message, error.message

    settings(profile(), max_examples=min(profile().max_examples, 300) if fuzz_profile() == "fuzz-quick" else profile().max_examples)(case)()


# ---- what the user sees: one message naming the file, line and fix, and a distinct exit code --------------

def test_bad_input_exits_with_the_code_of_its_kind_naming_file_line_and_fix(small_run, tmp_path):
    from faults.faultkit import consentmon
    from monitor.devci.exitcodes import ExitCode

    bad_scenario = tmp_path / "bad.yaml"
    bad_scenario.write_text("name: x\nsteps:\n  - launch\n  - wait: soon\n")
    bad_rules = tmp_path / "rules.yaml"
    bad_rules.write_text("rules:\n  - id: x\n    oops: [\n")
    torn = tmp_path / "torn"
    shutil.copytree(small_run, torn)
    (torn / "manifest.json").unlink()                      # a killed capture: never sealed…
    with open(torn / "events.jsonl", "ab") as handle:
        handle.write(b'{"source":"hook","kind":"pi_re')    # …and cut inside its last line
    damaged = tmp_path / "damaged"
    shutil.copytree(small_run, damaged)
    lines = (damaged / "events.jsonl").read_bytes().splitlines(keepends=True)
    lines[3] = b'{"source":"hook","kind":"pi_read","ts":"soon","seq":3}\n'
    (damaged / "events.jsonl").write_bytes(b"".join(lines))
    other_version = tmp_path / "schema"
    shutil.copytree(small_run, other_version)
    info = json.loads((other_version / "run.json").read_text())
    (other_version / "run.json").write_text(json.dumps({**info, "schema": 99}))

    cases = [
        (["run", "--host", "--scenario", str(bad_scenario), "--out", str(tmp_path / "r1"), "--", "true"], ExitCode.DATA,
         [f"{bad_scenario}:4", "fix:"]),
        (["analyze", str(small_run), "--rules", str(bad_rules)], ExitCode.DATA, [f"{bad_rules}:4: not valid YAML", "fix:"]),
        (["analyze", str(damaged)], ExitCode.RUN_DIR, [f"{damaged / 'events.jsonl'}:4", "fix:"]),
        (["analyze", str(other_version)], ExitCode.RUN_DIR, [f"{other_version / 'run.json'}", "schema 99", "fix:"]),
        (["analyze", str(tmp_path / "nowhere")], ExitCode.RUN_DIR, ["is not a directory", "fix:"]),
        (["analyze", "--no-such-option", str(small_run)], ExitCode.USAGE, ["No such option"]),
        (["analyze", str(torn)], ExitCode.OK, []),        # read, with the torn line left out
    ]
    for argv, code, said in cases:
        result = consentmon(*argv, timeout=120)
        text = " ".join((result.stdout + result.stderr).split())
        assert result.returncode == code, (argv, result.returncode, text[-800:])
        assert "Traceback" not in text, text[-2000:]
        for words in said:
            assert words in text, (argv, words, text[-800:])


@pytest.mark.parametrize("version", [99, "x", None])
def test_a_flows_mitm_from_another_mitmproxy_version_is_refused_by_name(tmp_path, version):
    from mitmproxy.io import tnetstring
    from mitmproxy.test import tflow

    from monitor.store.flows import load_flows
    from monitor.store.writer import RunWriter

    run = tmp_path / "run"
    with RunWriter(run, run_info={}):
        pass
    state = tflow.tflow(resp=True).get_state()
    state["version"] = version
    (run / "flows.mitm").write_bytes(tnetstring.dumps(state))
    with pytest.raises(RunDirError) as error:
        load_flows(run)
    assert str(run / "flows.mitm") in error.value.message and error.value.hint
