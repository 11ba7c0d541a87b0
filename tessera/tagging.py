"""Object tags: S3's limits, and the x-amz-tagging header's form.

Invariant: every tag set that reaches a version (or bucket) record passed check_tags
(at most 10 tags, keys of 1..128 and values of 0..256 characters, keys
unique); a tag set that does not is InvalidTag, wherever it came from.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from tessera import errors, limits


def check_tags(tags: dict[str, str], tags_max: int = limits.TAGS_PER_OBJECT_MAX) -> None:
    """S3's limits on a tag set (an object's at most 10 tags; a bucket's tags_max)."""
    if len(tags) > tags_max:
        what = "Object" if tags_max == limits.TAGS_PER_OBJECT_MAX else "Bucket"
        raise errors.InvalidTag(f"{what} tags cannot be greater than {tags_max}")
    for key, value in tags.items():
        if not 1 <= len(key) <= limits.TAG_KEY_CHARS_MAX:
            raise errors.InvalidTag("The TagKey you have provided is invalid")
        if len(value) > limits.TAG_VALUE_CHARS_MAX:
            raise errors.InvalidTag("The TagValue you have provided is invalid")


def parse_header(value: str) -> dict[str, str]:
    """The x-amz-tagging header (a URL query string) as a checked tag set."""
    pairs = parse_qsl(value, keep_blank_values=True)
    tags = dict(pairs)
    if len(tags) != len(pairs):
        raise errors.InvalidTag("Cannot provide multiple Tags with the same key")
    check_tags(tags)
    return tags


def to_header(tags: dict[str, str]) -> str:
    return urlencode(sorted(tags.items()))
