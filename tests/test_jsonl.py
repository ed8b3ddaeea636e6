import gzip
import io
import math

from tracelab_pipeline.formats.jsonl import Accounting, feed_records, open_log


def _read(data: bytes):
    acc = Accounting("f.jsonl", "alice")
    records = []
    feed_records(io.BytesIO(data), acc, lambda n, record: records.append((n, record)))
    return records, acc


def test_every_line_lands_in_one_bucket():
    data = b'{"a":1}\n\n[1,2]\n{bad\n\xff\xfe{"x":1}\n{"trunc'
    records, acc = _read(data)
    assert [n for n, _ in records] == [1]
    assert acc.ignored_by_type == {"blank": 1}
    assert dict(acc.rejected_by_reason) == {
        "not a JSON object": 1,
        "malformed JSON": 1,
        "invalid UTF-8": 1,
        "truncated last line (file still being written?)": 1,
    }
    assert [r["line_number"] for r in acc.rejected] == [3, 4, 5, 6]
    assert acc.lines_read == 1 + acc.ignored + len(acc.rejected)


def test_a_last_line_of_bad_bytes_is_bad_bytes_and_a_cut_character_a_cut_line():
    _, binary = _read(b'{"a":1}\n\x8f\xff\x00garbage')
    _, cut = _read('{"a":1}\n{"t":"caf\u00e9'.encode()[:-1])  # inside the é
    assert dict(binary.rejected_by_reason) == {"invalid UTF-8": 1}
    assert dict(cut.rejected_by_reason) == {"truncated last line (file still being written?)": 1}


def test_lone_surrogates_and_nan_are_kept():
    # A cut emoji is written as an escaped lone surrogate by real clients; orjson refuses it.
    # Arrow cannot hold it either, so it becomes "?": one code point for one keeps sizes.
    records, acc = _read(b'{"t":"\\ud83d cut"}\n{"n":NaN}\n')
    assert [r for _, r in records][0] == {"t": "? cut"}
    assert len(records) == 2 and not acc.rejected
    assert math.isnan(records[1][1]["n"])  # kept as the number it is, not as null


def test_gzip_is_detected_by_content(tmp_path):
    path = tmp_path / "session.log"
    path.write_bytes(gzip.compress(b'{"a":1}\n'))
    with open_log(path) as f:
        assert f.read() == b'{"a":1}\n'
