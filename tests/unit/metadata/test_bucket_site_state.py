"""A bucket's website configuration and default Cache-Control in the state machine."""

from __future__ import annotations

import pytest

from metadata.mutations import CreateBucket, SetBucketAccess
from metadata.state import StateMachine
from tessera import errors, website
from tests.unit.metadata.test_state import one

SITE = website.config_to_json(website.WebsiteConfig(index_suffix="index.html"))


def test_website_and_cache_control_are_set_checked_and_removed(state: StateMachine) -> None:
    one(state, CreateBucket("c1", "b", "user:alice", 1.0))
    one(state, SetBucketAccess("s1", "b", "website", SITE))
    one(state, SetBucketAccess("s2", "b", "cache-control", " public, max-age=60"))
    bucket = state.get_bucket("b")
    assert (bucket.website, bucket.cache_control) == (SITE, "public, max-age=60")
    with pytest.raises(errors.InvalidArgument):
        one(state, SetBucketAccess("s3", "b", "website", '{"index_suffix": ""}'))
    with pytest.raises(errors.InvalidArgument):
        one(state, SetBucketAccess("s4", "b", "cache-control", "max-age=1\r\nX: y"))
    assert state.get_bucket("b").cache_control == "public, max-age=60"
    one(state, SetBucketAccess("s5", "b", "website", ""))
    one(state, SetBucketAccess("s6", "b", "cache-control", ""))
    bucket = state.get_bucket("b")
    assert (bucket.website, bucket.cache_control) == ("", "")
    with pytest.raises(errors.NoSuchBucket):
        one(state, SetBucketAccess("s7", "nope", "website", SITE))
