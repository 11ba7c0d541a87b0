"""Object Lock on a write: x-amz-object-lock-mode,
x-amz-object-lock-retain-until-date and x-amz-object-lock-legal-hold on
PutObject, CopyObject and CreateMultipartUpload (docs/object-lock.md).

Invariant: a write that names a retention or a legal hold is refused unless
its requester holds s3:PutObjectRetention / s3:PutObjectLegalHold on the
key; whether the bucket has Object Lock and whether the date is in the
future are decided by the metadata state machine at commit, on its clock.
"""

from __future__ import annotations

from aiohttp import web

from gateway.authorization import check, lock_values
from gateway.routing import Route
from tessera import errors, object_lock
from tessera.model import BucketInfo
from tessera.object_lock import Lock

MODE_HEADER = "x-amz-object-lock-mode"
DATE_HEADER = "x-amz-object-lock-retain-until-date"
LEGAL_HOLD_HEADER = "x-amz-object-lock-legal-hold"


def requested_lock(request: web.Request) -> Lock:
    mode = request.headers.get(MODE_HEADER)
    date = request.headers.get(DATE_HEADER)
    hold = request.headers.get(LEGAL_HOLD_HEADER)
    if (mode is None) != (date is None):
        raise errors.InvalidArgument(
            "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied"
        )
    if hold is not None and hold not in (object_lock.LEGAL_HOLD_ON, object_lock.LEGAL_HOLD_OFF):
        raise errors.InvalidArgument("x-amz-object-lock-legal-hold is ON or OFF")
    if mode is None or date is None:
        return Lock(legal_hold=hold == object_lock.LEGAL_HOLD_ON)
    if mode not in object_lock.MODES:
        raise errors.InvalidArgument("Unknown wormMode directive.")
    return Lock(mode, object_lock.parse_date(date), hold == object_lock.LEGAL_HOLD_ON)


def check_lock_permissions(
    request: web.Request, bucket: BucketInfo, requester: str, route: Route, lock: Lock
) -> None:
    if lock.mode:
        check(
            request,
            bucket,
            requester,
            "PutObject",
            key=route.key,
            action="s3:PutObjectRetention",
            extra_values=lock_values(lock),
        )
    if lock.legal_hold:
        check(
            request, bucket, requester, "PutObject", key=route.key, action="s3:PutObjectLegalHold"
        )
