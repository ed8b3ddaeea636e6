"""`tracelab forget` while another process (a running `dagster dev` or daemon) holds the Dagster
instance's SQLite file longer than Dagster's busy timeout (5 s for runs): it tries again, and
when the file stays held it says which one, and that running again finishes the erasure.
The lock is a real one, taken by a second SQLite connection as a writer of dagster dev takes it."""

import sqlite3
from pathlib import Path

import dagster as dg
from click.testing import CliRunner

from tracelab_pipeline.cli import main as cli
from tracelab_pipeline.orchestration.forget import (
    forget_in_instance,
    instance_at,
    retry_while_locked,
)
from tracelab_pipeline.orchestration.partitions import contributor_month


def test_forget_tries_again_while_another_process_holds_the_instance(tmp_path, monkeypatch):
    home = _instance_with_her_run(tmp_path, monkeypatch)
    holder = _hold(home / "history" / "runs.db")
    attempts = []

    def erase():
        attempts.append(1)
        if len(attempts) == 2:  # the other process lets go once an attempt has timed out
            holder.close()
        with instance_at(str(home)) as instance:
            return forget_in_instance(instance, "alice", apply=True)

    erased = retry_while_locked(erase, str(home), wait=60)
    assert len(attempts) == 2 and erased["runs"] == 1
    assert _runs_by_owner(home) == ["bob|2026-03"]


def test_forget_names_the_locked_file_and_finishes_when_run_again(tmp_path, monkeypatch):
    home = _instance_with_her_run(tmp_path, monkeypatch)
    runs_db = home / "history" / "runs.db"
    holder = _hold(runs_db)
    args = ["forget", "alice", "--data-dir", str(tmp_path / "data"), "--yes"]

    held = CliRunner().invoke(cli, [*args, "--wait", "0"])
    assert held.exit_code == 1, held.output
    assert "stayed locked" in held.output and f"holds {runs_db};" in held.output
    assert "run the same command again once it is free" in held.output
    assert sorted(_runs_by_owner(home)) == ["alice|2026-03", "bob|2026-03"]

    holder.close()
    done = CliRunner().invoke(cli, args)
    assert done.exit_code == 0, done.output
    assert _runs_by_owner(home) == ["bob|2026-03"]


def _instance_with_her_run(tmp_path: Path, monkeypatch) -> Path:
    """An on-disk instance (as `dagster dev` keeps one) with a run of alice's and one of bob's."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.delenv("TRACELAB_PSEUDONYM_KEY", raising=False)

    @dg.asset(partitions_def=contributor_month, name="normalized_steps")
    def stand_in():
        return None

    keys = ["alice|2026-03", "bob|2026-03"]
    with instance_at(str(home)) as instance:
        instance.add_dynamic_partitions(contributor_month.name, keys)
        for key in keys:
            assert dg.materialize([stand_in], partition_key=key, instance=instance).success
    return home


def _hold(db: Path) -> sqlite3.Connection:
    """A writer's lock on `db`, held until the connection is closed."""
    conn = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    conn.execute("BEGIN IMMEDIATE")
    return conn


def _runs_by_owner(home: Path) -> list[str]:
    with instance_at(str(home)) as instance:
        return [r.tags["dagster/partition"] for r in instance.get_runs()]
