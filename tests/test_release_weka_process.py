"""The Weka file is written by a child process (weka.WekaProcess): the same bytes as writing it
in the builder's own process, and a child that fails fails the build."""

import pytest
from test_release import built  # noqa: F401 (the module's fixture: a real Dagster release)

from tracelab_pipeline.release import weka
from tracelab_pipeline.release.files import gzip_writer
from tracelab_pipeline.release.public_tables import partitions, read_partition_table


def test_child_process_writes_the_in_process_bytes(built, tmp_path):  # noqa: F811
    data, _ = built
    path = tmp_path / "weka.jsonl.gz"
    with open(path, "wb") as raw, gzip_writer(raw) as f:
        trace = weka.WekaTrace(f)
        for contributor, month in partitions(data / "public"):
            trace.add(read_partition_table(data / "public", "steps", contributor, month))
    assert trace.counts["lines"] > 0
    assert path.read_bytes() == (data / "release" / "weka.jsonl.gz").read_bytes()

    with weka.WekaProcess(tmp_path / "child.jsonl.gz") as child:
        for contributor, month in partitions(data / "public"):
            child.add(read_partition_table(data / "public", "steps", contributor, month))
    assert child.counts == trace.counts
    assert (tmp_path / "child.jsonl.gz").read_bytes() == path.read_bytes()


def test_a_failed_child_fails_the_writer(tmp_path):
    # the child cannot open its file: it exits before reading anything
    missing = tmp_path / "no such dir" / "weka.jsonl.gz"
    with pytest.raises(RuntimeError, match="Weka writer process failed"), weka.WekaProcess(missing):
        pass
