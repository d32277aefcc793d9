"""Hostile spec files through the real ``ipamctl``: a corpus of bad specs, one expected error each.

The corpus lives in ``tests/corpus/bad_specs/``. A case is either

* one spec file (``NAME.yaml``) whose first line declares what it must be refused with::

      # expect: Spec.DuplicateKey line 4
      # base: none                      (optional: leave out the valid base spec)

  ``line N`` is the 1-based line the error must name in that file, ``line none`` says the
  error has no line (a file refused as a whole). The file is copied to ``specs/NAME.yaml``
  and the error must name that file; or

* a folder (``NAME/``) for cases that need several files, special bytes or a generator: its
  ``expect.json`` holds ``{"code", "line", "file"}`` (``file`` as displayed: ``specs/...``)
  and optionally ``"base": false`` and ``"generate": "<generator>"`` (a function below that
  writes what cannot be committed: multi-megabyte files, symlinks, fifos); whatever sits in
  its ``specs/`` subfolder is copied into the workspace's ``specs/``.

Unless a case says ``base: none``, it is added next to a valid spec (``specs/00-base.yaml``,
the ``BASE`` plan of ``tests/support/specs.py``) that has already been applied: every case
runs against a workspace with a real recorded state, which must come out byte for byte
untouched.

Every case runs in-process through ``click.testing.CliRunner`` against ``reconciler.cli.main.main``
(the real CLI code; ``sys.argv`` is set as the console script would see it), as ``plan``,
``plan --json`` and ``apply --auto-approve``, under an address-space limit. A sample
(``SUBPROCESS_SAMPLE``) also runs as real ``python -m reconciler`` processes with
``RLIMIT_AS`` = 1 GiB and a timeout. For each run: exit code 1; no ``Traceback`` and no
unhandled exception; the expected code at the expected ``specs/...:line`` in the human output;
``--json`` gives ``{"errors": [...]}`` with code/file/line/address/message; every error names a
file of the case (never the valid base); bounded time; ``state/`` unchanged.

Cases that expose a reconciler bug are kept in ``tests/corpus/pending/`` (not collected)
until the bug is fixed; then move them here.
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli.main import main
from tests.support.specs import BASE

REPO = Path(__file__).resolve().parents[2]
DEFAULT_CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "bad_specs"
#: ``IPAM_BAD_SPECS_CORPUS=tests/corpus/pending`` runs the pending cases (known bugs) instead.
CORPUS = Path(os.environ.get("IPAM_BAD_SPECS_CORPUS") or DEFAULT_CORPUS).resolve()
BASE_FILE = "specs/00-base.yaml"

#: Address-space limit for every run (real processes and, around each call, this one).
MEMORY_LIMIT = 1 << 30
#: Wall-clock bound of one real ``ipamctl`` process (start-up included).
PROCESS_TIMEOUT = 8.0
#: Wall-clock bound of one in-process command.
CALL_SECONDS = 3.0

#: Cases also run as real processes (with RLIMIT_AS and a timeout).
SUBPROCESS_SAMPLE = (
    "limit-alias-bomb",
    "limit-alias-bomb-flow",
    "limit-huge-pool-name",
    "limit-huge-description",
    "limit-deep-lists-1000",
    "limit-deep-json-1000",
    "limit-file-too-large",
    "enc-latin1",
    "enc-nul-byte",
    "enc-utf16-bom",
    "fs-symlink-outside",
    "fs-fifo",
    "yaml-unclosed-flow",
    "json-trailing-comma",
    "key-duplicate",
    "names-duplicate-across-files",
    "ref-cycle-three",
    "cidr-host-bits",
    "mask-huge-integer",
    "rule-pool-exhausted",
    "compute-count-million",
    "top-list",
)

_HEADER = re.compile(r"#\s*expect:\s*(?P<code>\S+)\s+line\s+(?P<line>\d+|none)\s*$")
_BASE_NONE = re.compile(r"#\s*base:\s*none\s*$")


# --------------------------------------------------------------------------------------------
# generators: what cannot sit in the repository as it is


def _gen_huge_pool_name(specs: Path, outside: Path) -> None:
    name = "p" * (5 * 1024 * 1024)
    (specs / "huge-name.json").write_text(
        '{\n  "pools": {\n    "' + name + '": {"source": "root", "cidrs": [{"mask": 16}]}\n  }\n}\n')


def _gen_huge_description(specs: Path, outside: Path) -> None:
    text = "x" * (5 * 1024 * 1024)
    (specs / "huge-description.yaml").write_text(
        f"pools:\n  big:\n    source: root\n    cidrs: [{{mask: 16}}]\n    description: {text}\n"
        "    bad_key: 1\n")


def _gen_huge_key(specs: Path, outside: Path) -> None:
    key = "k" * (5 * 1024 * 1024)
    (specs / "huge-key.yaml").write_text(f"pools:\n  big:\n    source: root\n    {key}: 1\n")


def _gen_file_too_large(specs: Path, outside: Path) -> None:
    with open(specs / "too-large.yaml", "wb") as handle:
        handle.write(b"# padding\n" * (33 * 1024 * 1024 // 10 + 1))


def _gen_symlink_outside(specs: Path, outside: Path) -> None:
    target = outside / "elsewhere.yaml"
    target.write_text("pools:\n  stolen: {source: root, cidrs: [{mask: 16}]}\n")
    os.symlink(target, specs / "link.yaml")


def _gen_symlink_dir_outside(specs: Path, outside: Path) -> None:
    folder = outside / "shared-specs"
    folder.mkdir()
    (folder / "x.yaml").write_text("pools: {}\n")
    os.symlink(folder, specs / "shared")


def _gen_symlink_broken(specs: Path, outside: Path) -> None:
    os.symlink("does-not-exist.yaml", specs / "broken.yaml")


def _gen_symlink_loop(specs: Path, outside: Path) -> None:
    os.symlink("../specs", specs / "again")


def _gen_fifo(specs: Path, outside: Path) -> None:
    os.mkfifo(specs / "pipe.yaml")


def _gen_directory_named_yaml(specs: Path, outside: Path) -> None:
    (specs / "folder.yaml").mkdir()
    (specs / "folder.yaml" / "inner.yaml").write_text("pools:\n  - not a mapping\n")


def _gen_many_names(specs: Path, outside: Path) -> None:
    # 50,000 flow entries, each of them wrong: every one is reported
    body = ", ".join(f"v{i}: 1" for i in range(50_000))
    (specs / "many.yaml").write_text("vpcs: {" + body + "}\n")


def _gen_huge_int_json(specs: Path, outside: Path) -> None:
    (specs / "huge-int.json").write_text('{"pools": {"x": {"source": "root", "cidrs": [{"mask": '
                                         + "9" * 5000 + "}]}}}\n")


def _gen_huge_int_yaml(specs: Path, outside: Path) -> None:
    (specs / "huge-int.yaml").write_text("pools:\n  x: {source: root, cidrs: [{mask: " + "9" * 100_000 + "}]}\n")


GENERATORS = {name[len("_gen_"):]: fn for name, fn in globals().items() if name.startswith("_gen_")}


# --------------------------------------------------------------------------------------------
# the corpus


@dataclass(frozen=True)
class Case:
    name: str
    code: str
    line: int | None
    file: str
    base: bool
    path: Path
    generate: str | None = None


def _read_case(path: Path) -> Case:
    if path.is_dir():
        meta = json.loads((path / "expect.json").read_text())
        unknown = set(meta) - {"code", "line", "file", "base", "generate", "note"}
        assert not unknown, f"{path}: unknown keys {unknown} in expect.json"
        generate = meta.get("generate")
        assert generate is None or generate in GENERATORS, f"{path}: no generator {generate!r}"
        assert str(meta["file"]).startswith("specs/"), path
        return Case(path.name, meta["code"], meta["line"], meta["file"], meta.get("base", True), path, generate)
    head = path.read_bytes()[:2000].decode("latin-1").splitlines()
    match = _HEADER.fullmatch(head[0].strip()) if head else None
    assert match, f"{path}: the first line must be '# expect: CODE line N|none'"
    comments = [h for h in head if h.startswith("#")]
    base = not any(_BASE_NONE.fullmatch(h.strip()) for h in comments)
    line = None if match["line"] == "none" else int(match["line"])
    return Case(path.stem, match["code"], line, f"specs/{path.name}", base, path)


def _corpus() -> list[Case]:
    cases = []
    for path in sorted(CORPUS.iterdir()):
        if path.name.startswith(".") or path.suffix == ".md":
            continue
        cases.append(_read_case(path))
    return cases


CASES = _corpus()
BY_NAME = {c.name: c for c in CASES}


@pytest.mark.skipif(CORPUS != DEFAULT_CORPUS, reason="another corpus was chosen")
def test_corpus_is_large_and_well_formed():
    assert len(CASES) >= 110, len(CASES)
    assert len(BY_NAME) == len(CASES), "two cases share a name"
    missing = set(SUBPROCESS_SAMPLE) - set(BY_NAME)
    assert not missing, f"SUBPROCESS_SAMPLE names cases that do not exist: {missing}"
    assert len(SUBPROCESS_SAMPLE) >= 15


# --------------------------------------------------------------------------------------------
# workspaces


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A workspace whose valid base spec has been applied by the real CLI: a real state."""
    root = tmp_path_factory.mktemp("template") / "ws"
    (root / "specs").mkdir(parents=True)
    (root / BASE_FILE).write_text(BASE)
    proc = _process(root, "apply", "--auto-approve")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (root / "state" / "state.json").is_file()
    return root


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()}


def _workspace(case: Case, template: Path, tmp: Path) -> Path:
    root = tmp / "ws"
    shutil.copytree(template, root, symlinks=True)
    specs = root / "specs"
    if not case.base:
        (root / BASE_FILE).unlink()
    if case.path.is_dir():
        if (case.path / "specs").is_dir():
            shutil.copytree(case.path / "specs", specs, symlinks=True, dirs_exist_ok=True)
    else:
        shutil.copyfile(case.path, specs / case.path.name)
    if case.generate:
        outside = tmp / "outside"
        outside.mkdir()
        GENERATORS[case.generate](specs, outside)
    return root


# --------------------------------------------------------------------------------------------
# running the CLI


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str
    seconds: float
    exception: BaseException | None = None


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def _process(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "reconciler", "-C", str(root), *args], capture_output=True,
                          text=True, errors="replace", env=env, timeout=PROCESS_TIMEOUT, stdin=subprocess.DEVNULL)


def _run_process(root: Path, *args: str) -> Run:
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1"}
    start = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, "-m", "reconciler", "-C", str(root), *args], capture_output=True,
                              text=True, errors="replace", env=env, timeout=PROCESS_TIMEOUT,
                              stdin=subprocess.DEVNULL, preexec_fn=_limit_memory)
    except subprocess.TimeoutExpired:
        pytest.fail(f"ipamctl {' '.join(args)} ran longer than {PROCESS_TIMEOUT} s")
    return Run(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - start)


def _address_space() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0  # pragma: no cover - not Linux


def _run_in_process(root: Path, *args: str, monkeypatch) -> Run:
    argv = ["-C", str(root), *args]
    # the CLI decides on JSON errors from sys.argv, as the console script would see it
    monkeypatch.setattr(sys, "argv", ["ipamctl", *argv])
    runner = CliRunner()
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    used = _address_space()
    cap = used + MEMORY_LIMIT if used else resource.RLIM_INFINITY
    if hard != resource.RLIM_INFINITY:  # pragma: no cover
        cap = min(cap, hard)
    start = time.monotonic()
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        result = runner.invoke(main, argv, catch_exceptions=True, env={"NO_COLOR": "1"})
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    seconds = time.monotonic() - start
    exception = result.exception if not isinstance(result.exception, SystemExit) else None
    return Run(result.exit_code, result.stdout, result.stderr, seconds, exception)


# --------------------------------------------------------------------------------------------
# checks


def _where(case: Case) -> str:
    return f"{case.file}:{case.line}: " if case.line is not None else f"{case.file}: "


def _in_case(case: Case, file: str | None) -> bool:
    """Whether an error's file is one of the case's own (never the valid base spec)."""
    if not file or not file.startswith("specs/") or file == BASE_FILE:
        return False
    return case.path.is_dir() or file == case.file


def _check_human(case: Case, run: Run, what: str, limit: float) -> None:
    shown = f"{what}\nexit {run.exit_code}\nstdout:\n{run.stdout[:3000]}\nstderr:\n{run.stderr[:3000]}"
    assert run.exception is None, f"{what}: unhandled {run.exception!r}\n{shown}"
    assert "Traceback" not in run.stdout and "Traceback" not in run.stderr, shown
    assert run.exit_code == 1, shown
    assert run.seconds < limit, f"{what} took {run.seconds:.2f} s"
    errors = [line for line in run.stderr.splitlines() if line.startswith("Error: ")]
    assert errors, shown
    where = _where(case)
    assert any(line.startswith(f"Error: {where}") and f"{case.code}: " in line for line in errors), \
        f"expected {where}{case.code}\n{shown}"
    for line in errors:
        file = line[len("Error: "):].split(":", 1)[0]
        assert _in_case(case, file), f"error not in the case's files: {line[:300]}"


def _check_json(case: Case, run: Run, what: str, limit: float) -> None:
    shown = f"{what}\nexit {run.exit_code}\nstdout:\n{run.stdout[:3000]}\nstderr:\n{run.stderr[:3000]}"
    assert run.exception is None, f"{what}: unhandled {run.exception!r}\n{shown}"
    assert "Traceback" not in run.stdout and "Traceback" not in run.stderr, shown
    assert run.exit_code == 1, shown
    assert run.seconds < limit, f"{what} took {run.seconds:.2f} s"
    document = json.loads(run.stdout)
    assert set(document) == {"errors"}, shown
    errors = document["errors"]
    assert errors and isinstance(errors, list), shown
    for error in errors:
        assert set(error) == {"code", "file", "line", "address", "message"}, error
        assert isinstance(error["code"], str) and isinstance(error["message"], str) and error["message"]
        assert error["line"] is None or (type(error["line"]) is int and error["line"] >= 1), error
        assert error["address"] is None or isinstance(error["address"], str), error
        assert _in_case(case, error["file"]), f"error not in the case's files: {str(error)[:300]}"
        assert error["code"] in error["message"], error
    assert any(e["code"] == case.code and e["file"] == case.file and e["line"] == case.line for e in errors), \
        f"expected {case.code} at {case.file}:{case.line}\n{shown}"


COMMANDS = (("plan",), ("plan", "--json"), ("apply", "--auto-approve"))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_spec_in_process(case: Case, template: Path, tmp_path: Path, monkeypatch):
    root = _workspace(case, template, tmp_path)
    before = _snapshot(root / "state")
    for args in COMMANDS:
        run = _run_in_process(root, *args, monkeypatch=monkeypatch)
        check = _check_json if "--json" in args else _check_human
        check(case, run, f"ipamctl {' '.join(args)} ({case.name})", CALL_SECONDS)
    assert _snapshot(root / "state") == before, "the recorded state was touched"


@pytest.mark.parametrize("name", [n for n in SUBPROCESS_SAMPLE if n in BY_NAME])
def test_bad_spec_as_process(name: str, template: Path, tmp_path: Path):
    case = BY_NAME[name]
    root = _workspace(case, template, tmp_path)
    before = _snapshot(root / "state")
    _check_json(case, _run_process(root, "plan", "--json"), f"plan --json ({name})", PROCESS_TIMEOUT)
    _check_human(case, _run_process(root, "apply", "--auto-approve"), f"apply ({name})", PROCESS_TIMEOUT)
    assert _snapshot(root / "state") == before, "the recorded state was touched"
