"""Every command names its database, and a missing or empty one gets one clear sentence."""

import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agritrace.cli import app

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = [
    ["serve"],
    ["import-fields"],
    ["load-fixtures"],
    ["report"],
    ["ingest"],
    ["ingest-log"],
    ["simulate"],
    ["demo"],
    ["db", "upgrade"],
    ["db", "current"],
    ["users", "create"],
]


@pytest.fixture
def here(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AGRITRACE_DATABASE_URL", raising=False)
    return tmp_path


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_takes_a_database_url_and_names_its_default(command):
    out = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "80"})
    assert out.exit_code == 0, out.output
    assert "--database-url" in out.output
    text = " ".join(out.output.split())
    default = {"demo": "sqlite:///./agritrace-demo.db", "simulate": "the fixture files"}
    assert default.get(command[0], "sqlite:///./agritrace.db") in text


@pytest.mark.parametrize("command", [["report", "missions"], ["db", "current"]], ids=" ".join)
def test_a_missing_database_is_one_sentence_and_no_file_is_left(here, command):
    out = CliRunner().invoke(app, command)
    assert out.exit_code == 1
    lines = out.output.strip().splitlines()
    assert len(lines) == 1 and "there is no database at ./agritrace.db" in lines[0]
    assert "Traceback" not in out.output
    assert not list(here.iterdir()), "a read command created a file"


def test_a_missing_database_points_at_the_demos(here):
    (here / "agritrace-demo.db").touch()
    out = CliRunner().invoke(app, ["report", "missions"])
    assert out.exit_code == 1
    assert "--database-url sqlite:///./agritrace-demo.db" in out.output


def test_an_empty_database_is_one_sentence(here):
    (here / "empty.db").touch()
    out = CliRunner().invoke(app, ["report", "fleet", "--database-url", "sqlite:///empty.db"])
    assert out.exit_code == 1
    assert out.output.strip() == (
        "the database sqlite:///empty.db is empty; create it with: "
        "agritrace db upgrade --database-url sqlite:///empty.db"
    )


def test_report_reads_the_database_it_is_given(here):
    url = f"sqlite:///{here / 'mine.db'}"
    assert CliRunner().invoke(app, ["db", "upgrade", "--database-url", url]).exit_code == 0
    out = CliRunner().invoke(app, ["report", "missions", "--database-url", url])
    assert out.exit_code == 0 and "(no rows)" in out.output
    assert sorted(p.name for p in here.iterdir() if p.suffix == ".db") == ["mine.db"]


def test_a_port_in_use_is_named_with_a_way_out():
    import socket

    from agritrace.demo import DemoError, check_port

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(DemoError, match=f"port {port} on 127.0.0.1 is already in use.*--port"):
            check_port("127.0.0.1", port)


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(ROOT / "run"), *args], capture_output=True, text=True, timeout=120, cwd=ROOT
    )


def test_run_lists_its_own_verbs_and_benchmarks():
    helped = _run("--help")
    assert helped.returncode == 0
    for verb in ("test", "lint", "bench"):
        assert f"\n  {verb} " in helped.stdout
    assert "Commands:" in helped.stdout  # and then agritrace's own
    lint = _run("lint", "--help")
    assert lint.returncode == 0 and "no arguments" in lint.stdout
    bench = _run("bench")
    assert bench.returncode == 0 and "trace_bench" in bench.stdout
