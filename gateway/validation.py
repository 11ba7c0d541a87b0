"""Checks on names and headers from clients, with S3's error for each."""

from __future__ import annotations

import ipaddress
import re

from tessera import errors, limits

_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]*[a-z0-9]$")


def check_bucket_name(name: str) -> None:
    """Raises InvalidBucketName unless name follows S3's bucket naming rules."""
    ok = (
        limits.BUCKET_NAME_LENGTH_MIN <= len(name) <= limits.BUCKET_NAME_LENGTH_MAX
        and _BUCKET_RE.match(name) is not None
        and ".." not in name
        and ".-" not in name
        and "-." not in name
        and not name.startswith("xn--")
        and not name.endswith("-s3alias")
    )
    if ok:
        try:
            ipaddress.IPv4Address(name)
            ok = False
        except ValueError:
            pass
    if not ok:
        raise errors.InvalidBucketName(f"The specified bucket is not valid: {name!r}")


def check_key(key: str) -> None:
    """Raises KeyTooLongError / InvalidArgument for keys S3 would refuse."""
    encoded = key.encode("utf-8", "surrogatepass")
    if len(encoded) > limits.KEY_LENGTH_MAX_BYTES:
        raise errors.KeyTooLongError()
    if not key:
        raise errors.InvalidArgument("The object key must not be empty.")
    try:
        key.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise errors.InvalidArgument("The object key is not valid UTF-8.") from exc


def user_metadata_size(meta: dict[str, str]) -> int:
    return sum(len(k.encode()) + len(v.encode()) for k, v in meta.items())


def check_user_metadata(meta: dict[str, str]) -> None:
    if user_metadata_size(meta) > limits.USER_METADATA_SIZE_MAX_BYTES:
        raise errors.MetadataTooLarge()
