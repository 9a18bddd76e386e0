"""`.ci/run` and the Makefile's pytest target: failures (and empty runs) fail the build."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

DEFAULT_TEST_DB = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS"))}
    env.pop("TEST_DATABASE_URL", None)
    env.update(extra)
    return env


def _fake_make(tmp_path: Path, exit_code: int) -> Path:
    """A `make` stand-in that records how .ci/run called it and exits with `exit_code`."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    script = bindir / "make"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "args=$* db=$TEST_DATABASE_URL" > "{tmp_path}/make-call"\n'
        f"exit {exit_code}\n",
        encoding="utf-8",
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return bindir


@pytest.mark.parametrize("exit_code", [0, 1, 2])
def test_ci_run_calls_make_test_with_the_database_and_propagates_failure(
    tmp_path: Path, exit_code: int
) -> None:
    bindir = _fake_make(tmp_path, exit_code)
    result = subprocess.run(
        [str(REPO_ROOT / ".ci" / "run")],
        env=_env(PATH=f"{bindir}:{os.environ['PATH']}"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode == 0) == (exit_code == 0), result.stderr
    call = (tmp_path / "make-call").read_text(encoding="utf-8").strip()
    assert call == f"args=test db={DEFAULT_TEST_DB}"


def _make_pytest(tests_dir: Path) -> subprocess.CompletedProcess[str]:
    if (
        not (REPO_ROOT / ".venv" / ".installed").is_file()
        or Path(sys.prefix).resolve() != (REPO_ROOT / ".venv").resolve()
    ):
        pytest.skip("needs the repository's .venv (made by `make install`)")
    (tests_dir / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    args = f"{tests_dir} -c {tests_dir / 'pytest.ini'} -p no:cacheprovider -q"
    return subprocess.run(
        ["make", "-s", "-C", str(REPO_ROOT), "pytest", f"PYTEST_ARGS={args}"],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_make_pytest_passes_and_fails_with_pytest(tmp_path: Path) -> None:
    passing, failing = tmp_path / "passing", tmp_path / "failing"
    passing.mkdir()
    failing.mkdir()
    (passing / "test_ok.py").write_text("def test_ok():\n    assert 1 + 1 == 2\n", "utf-8")
    (failing / "test_bad.py").write_text("def test_bad():\n    assert 1 + 1 == 3\n", "utf-8")
    ok = _make_pytest(passing)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad = _make_pytest(failing)
    assert bad.returncode != 0
    assert "1 failed" in bad.stdout


def test_make_pytest_fails_when_no_tests_are_collected(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = _make_pytest(empty)
    assert result.returncode != 0
    assert "collected no tests (exit 5)" in result.stderr
