"""A Range inside one stripe reads only the data chunks it covers
(gateway/read_path.needed_columns): with 4+2 and 1 MiB chunks a stripe is
4 MiB, and a 100-byte range reads one 1 MiB chunk from one node, not four.
Every answer is checked byte for byte; the fallbacks (a needed chunk that is
unreadable) are covered by tests/unit/shardio/test_reader.py and by the
durability tests' ranges with nodes down and a flipped byte."""

from __future__ import annotations

import os
import uuid

import pytest

from cli.local_cluster import LocalCluster
from tessera.limits import CHUNK_SIZE_DEFAULT_BYTES
from tests.integration.harness import gateway_metric

pytestmark = pytest.mark.integration

MiB = 1024 * 1024
CHUNK = CHUNK_SIZE_DEFAULT_BYTES
STRIPE = 4 * CHUNK  # the test cluster's 4+2
SIZE = STRIPE + 2 * CHUNK + 5  # a full stripe, then a short one
LAST_CHUNK = -(-(SIZE - STRIPE) // 4)  # the short stripe's chunks


def chunks_read(cluster: LocalCluster) -> float:
    return gateway_metric(cluster, "tessera_gateway_shard_chunks_read_total")


@pytest.fixture(scope="module")
def stored(s3) -> tuple[str, bytes]:  # type: ignore[no-untyped-def]
    bucket = f"ranges-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    body = os.urandom(SIZE)
    s3.put_object(Bucket=bucket, Key="big", Body=body)
    return bucket, body


@pytest.mark.parametrize(
    ("header", "first", "last", "chunks"),
    [
        ("bytes=100-199", 100, 199, 1),
        (f"bytes={CHUNK - 10}-{CHUNK + 10}", CHUNK - 10, CHUNK + 10, 2),
        (f"bytes={CHUNK}-{3 * CHUNK + 1}", CHUNK, 3 * CHUNK + 1, 3),
        (f"bytes=0-{STRIPE - 1}", 0, STRIPE - 1, 4),  # the whole stripe
        (
            f"bytes={STRIPE + LAST_CHUNK + 7}-{STRIPE + LAST_CHUNK + 99}",
            STRIPE + LAST_CHUNK + 7,
            STRIPE + LAST_CHUNK + 99,
            1,
        ),
        ("bytes=-3", SIZE - 3, SIZE - 1, 1),  # the short stripe's last chunk
        (f"bytes={STRIPE - 5}-{STRIPE + 5}", STRIPE - 5, STRIPE + 5, 8),  # two stripes: whole
    ],
)
def test_a_range_reads_only_the_chunks_it_covers(  # type: ignore[no-untyped-def]
    cluster, s3, stored, header: str, first: int, last: int, chunks: int
) -> None:
    bucket, body = stored
    before = chunks_read(cluster)
    got = s3.get_object(Bucket=bucket, Key="big", Range=header)
    assert got["Body"].read() == body[first : last + 1]
    assert got["ContentRange"] == f"bytes {first}-{last}/{SIZE}"
    assert chunks_read(cluster) - before == chunks
