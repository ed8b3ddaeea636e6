"""A bucket inbox, against a real S3-compatible HTTP server (moto) started here."""

import socket
import urllib.request

import boto3
import dagster as dg
import pytest
from landing_helpers import CODEX, file_info, fixture, inbox_tick, tar_with
from moto.server import ThreadedMotoServer

from tracelab_pipeline.collect import FoundLog
from tracelab_pipeline.definitions import build_definitions
from tracelab_pipeline.landing.contribute import contribute
from tracelab_pipeline.landing.land import land_inbox
from tracelab_pipeline.landing.registry import Registry

BUCKET = "tracelab-inbox"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def s3(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    # moto keeps its buckets in process-wide state: start every test from an empty server
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"))
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    try:
        yield client, {"endpoint_url": endpoint, "key": "testing", "secret": "testing"}
    finally:
        server.stop()


def put(client, key: str, path) -> None:
    client.upload_file(str(path), BUCKET, key)


def test_bucket_inbox_lands_like_a_local_one(s3, tmp_path):
    client, options = s3
    put(
        client,
        "drops/alice/" + fixture("ccviewer__1af7fc5e.jsonl").name,
        fixture("ccviewer__1af7fc5e.jsonl"),
    )
    archive = tar_with(tmp_path / "bob.tgz", [(file_info(f.name), f.read_bytes()) for f in CODEX])
    put(client, "drops/bob/logs.tgz", archive)
    evil = tar_with(tmp_path / "evil.tgz", [(file_info("../x.jsonl"), b"{}\n")])
    put(client, "drops/mallory/evil.tgz", evil)
    client.put_object(Bucket=BUCKET, Key="drops/alice/readme.txt", Body=b"hi")

    inbox = f"s3://{BUCKET}/drops"
    report = land_inbox(inbox, tmp_path / "landed", storage_options=options)
    got = {d["inbox_path"]: d["outcome"] for d in report.drops}
    assert got == {
        "alice/ccviewer__1af7fc5e.jsonl": "landed",
        "alice/readme.txt": "unsupported",
        "bob/logs.tgz": "landed",
        "mallory/evil.tgz": "refused",
    }
    assert report.files_landed == 1 + len(CODEX)
    with Registry(tmp_path / "landed") as reg:
        assert {p.key.split("|")[0] for p in reg.partitions()} == {"alice", "bob"}
    # unchanged bucket: nothing new (ETag + size fingerprint)
    assert land_inbox(inbox, tmp_path / "landed", storage_options=options).drops == []


def test_a_drop_into_a_directory_landed_before_lands_in_the_same_process(s3, tmp_path):
    # The sensor lands from one long-lived process; fsspec's cached listing of alice/ made
    # her second file "not found" when opened (a retry on every tick, never landed).
    client, options = s3
    inbox = f"s3://{BUCKET}/drops"
    first, second = fixture("ccviewer__1af7fc5e.jsonl"), fixture("ccviewer__5c0375b4.jsonl")
    put(client, "drops/alice/" + first.name, first)
    assert land_inbox(inbox, tmp_path / "landed", storage_options=options).files_landed == 1
    put(client, "drops/alice/" + second.name, second)
    report = land_inbox(inbox, tmp_path / "landed", storage_options=options)
    assert report.retry == []
    assert [d["inbox_path"] for d in report.drops] == ["alice/" + second.name]
    assert report.files_landed == 1


def test_contribute_uploads_once_and_the_sensor_picks_it_up(s3, tmp_path):
    client, options = s3
    logs = [
        FoundLog(
            "claude",
            fixture("ccviewer__5c0375b4.jsonl"),
            tmp_path.__class__("claude/projects/p/ccviewer__5c0375b4.jsonl"),
        ),
        FoundLog("codex", CODEX[0], tmp_path.__class__("codex/sessions/2026/04/x.jsonl")),
    ]
    inbox = f"s3://{BUCKET}/drops"
    first = contribute(logs, "carol", inbox, storage_options=options)
    again = contribute(logs, "carol", inbox, storage_options=options)
    assert first.uploaded and not again.uploaded and first.target == again.target
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert keys == [first.target.removeprefix(f"s3://{BUCKET}/")]

    defs = build_definitions(data_dir=tmp_path / "data", inbox=inbox, inbox_storage_options=options)
    with dg.instance_for_test() as instance:
        result = inbox_tick(defs, instance)
    assert sorted(r.partition_key for r in result.run_requests) == [
        "carol|2025-09",
        f"carol|{_month_of(CODEX[0])}",
    ]


def _month_of(path) -> str:
    import orjson

    with open(path, "rb") as f:
        return orjson.loads(f.readline())["timestamp"][:7]


def test_contribute_to_a_missing_bucket_fails_instead_of_creating_it(s3, tmp_path):
    """A mistyped bucket name must not receive the logs in a bucket made on the fly."""
    client, options = s3
    log = FoundLog("claude", fixture("ccviewer__5c0375b4.jsonl"), tmp_path.__class__("c/x.jsonl"))
    with pytest.raises(OSError):
        contribute([log], "carol", "s3://no-such-bucket/drops", storage_options=options)
    assert [b["Name"] for b in client.list_buckets()["Buckets"]] == [BUCKET]


def test_a_contribution_without_consent_is_held_in_the_bucket_then_lands(s3, tmp_path):
    from tracelab_pipeline.landing.consent import resolve_consent

    client, options = s3
    inbox = f"s3://{BUCKET}/drops"
    log = FoundLog("codex", CODEX[0], tmp_path.__class__("codex/sessions/2026/04/x.jsonl"))
    dropped = contribute([log], "carol", inbox, storage_options=options)
    only_alice = resolve_consent(["alice"], env={}, production=True)
    report = land_inbox(inbox, tmp_path / "landed", storage_options=options, consent=only_alice)
    assert report.held == {"carol": 1} and report.drops == []
    assert len(client.list_objects_v2(Bucket=BUCKET)["Contents"]) == 1  # nothing deleted

    both = resolve_consent(["alice", "carol"], env={}, production=True)
    report = land_inbox(inbox, tmp_path / "landed", storage_options=options, consent=both)
    assert report.held == {} and report.files_landed == 1
    assert [d["inbox_path"] for d in report.drops] == [dropped.target.removeprefix(f"{inbox}/")]
