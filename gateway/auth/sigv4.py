"""AWS Signature Version 4 verification of S3 requests, server side.

Owns the decision "who signed this request, and did they sign exactly this":
the Authorization-header form (verify_header_auth), the presigned-URL form
(verify_presigned), the choice between them (verify_request), and the S3 error
each failure earns. The byte rules of canonicalisation live in
gateway.auth.canonical.

Invariant: a request is accepted only when the signature it carries equals,
compared in constant time, the HMAC that the named access key's secret gives
over this request's method, path, query, signed headers and payload hash, at a
request time within CLOCK_SKEW_MAX_SECONDS of now (or, presigned, inside its
validity window). Every x-amz-* header present, and Host, must be signed. The
body is not read here: AuthResult says which payload mode the client chose and
carries what the body reader needs to finish the check (the expected SHA-256,
or the seed signature and signing key for aws-chunked streams).

Pure: no I/O and no clock; the caller passes `now` and a secret lookup.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum

from gateway.auth import canonical
from tessera.errors import (
    AccessDenied,
    AuthorizationHeaderMalformed,
    AuthorizationQueryParametersError,
    InvalidAccessKeyId,
    InvalidArgument,
    InvalidRequest,
    RequestTimeTooSkewed,
    SignatureDoesNotMatch,
    TesseraError,
)
from tessera.errors import NotImplemented as S3NotImplemented
from tessera.limits import CLOCK_SKEW_MAX_SECONDS

PRESIGNED_EXPIRES_MAX_SECONDS = 7 * 24 * 3600  # S3's hard limit for SigV4 presigned URLs
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"

SecretLookup = Callable[[str], str | None]
"""Returns the secret key of an access key id, or None when it is unknown."""


class PayloadMode(StrEnum):
    """How the client committed to the body, from x-amz-content-sha256."""

    SHA256 = "SHA256"  # one hex SHA-256 of the whole body (AuthResult carries it)
    UNSIGNED = "UNSIGNED-PAYLOAD"
    STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
    STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
    STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"


@dataclass(frozen=True)
class RequestView:
    """The parts of an HTTP request that SigV4 covers, free of any framework.

    raw_path: the request target's path exactly as sent, still percent-encoded
        (aiohttp's request.raw_path may be passed as is: a '?query' is ignored).
    query: the decoded (name, value) pairs in order; names may repeat.
    headers: case-insensitive lookup (a multidict), or a mapping whose names
        are lower-case; a multidict's getall() supplies repeated headers.
    now: the server's current time, timezone-aware.
    """

    method: str
    raw_path: str
    query: list[tuple[str, str]]
    headers: Mapping[str, str]
    now: datetime


@dataclass(frozen=True)
class AuthResult:
    """A verified signature, and what the body reader needs to finish the check.

    expected_payload_sha256 is set (lower-case hex) only for PayloadMode.SHA256:
    the caller hashes the body as it streams and raises XAmzContentSHA256Mismatch
    on a difference. For the STREAMING-* modes, seed_signature, signing_key,
    scope and amz_date are the inputs of the aws-chunked chunk signatures.
    """

    access_key: str
    payload_mode: str
    expected_payload_sha256: str | None
    signing_key: bytes
    scope: str
    seed_signature: str
    amz_date: str


# --- public entry points ---------------------------------------------------

_QUERY_AUTH_NAMES = frozenset({"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature"})
_SIGV2_QUERY_NAMES = frozenset({"AWSAccessKeyId", "Signature"})


def is_anonymous(req: RequestView) -> bool:
    """True when the request carries no signature of any kind."""
    if req.headers.get("authorization") is not None:
        return False
    names = {name for name, _ in req.query}
    return not (names & _QUERY_AUTH_NAMES or names & _SIGV2_QUERY_NAMES)


def verify_request(req: RequestView, lookup: SecretLookup, region: str) -> AuthResult | None:
    """Verifies whichever SigV4 form the request uses; None when it is anonymous."""
    if is_anonymous(req):
        return None
    names = {name for name, _ in req.query}
    has_header = req.headers.get("authorization") is not None
    if has_header and names & (_QUERY_AUTH_NAMES | _SIGV2_QUERY_NAMES):
        raise InvalidArgument(
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
            "Signature query string parameter or the Authorization header should be specified",
            ArgumentName="Authorization",
        )
    if has_header:
        return verify_header_auth(req, lookup, region)
    if names & _QUERY_AUTH_NAMES:
        return verify_presigned(req, lookup, region)
    raise _sigv2_unsupported()


def verify_header_auth(req: RequestView, lookup: SecretLookup, region: str) -> AuthResult:
    """Verifies `Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., ...`."""
    _assert_aware(req.now)
    header = req.headers.get("authorization")
    if header is None:
        raise AccessDenied()
    fields = _parse_authorization(header)
    amz_date, request_time = _header_request_time(req.headers)
    scope = _parse_credential(fields["Credential"], region, amz_date, _HEADER_ERRORS)
    signed_headers = _parse_signed_headers(fields["SignedHeaders"], _HEADER_ERRORS)
    secret = _secret_or_raise(lookup, scope.access_key)
    _check_skew(request_time, amz_date, req.now)
    payload_header = req.headers.get("x-amz-content-sha256")
    if payload_header is None:
        raise InvalidRequest("Missing required header for this request: x-amz-content-sha256")
    mode, expected_sha256 = _payload_mode(payload_header)
    _check_all_signed(req.headers, signed_headers)
    return _verify_signature(
        req,
        secret=secret,
        scope=scope,
        amz_date=amz_date,
        query=req.query,
        signed_headers=signed_headers,
        payload_hash=payload_header,
        provided=fields["Signature"],
        mode=mode,
        expected_sha256=expected_sha256,
    )


def verify_presigned(req: RequestView, lookup: SecretLookup, region: str) -> AuthResult:
    """Verifies a presigned URL (X-Amz-Algorithm, X-Amz-Credential, ... in the query)."""
    _assert_aware(req.now)
    params = _presigned_params(req.query)
    if params["X-Amz-Algorithm"] != canonical.ALGORITHM:
        raise AuthorizationQueryParametersError('X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"')
    amz_date = params["X-Amz-Date"]
    request_time = _parse_amz_date(amz_date)
    if request_time is None:
        raise AuthorizationQueryParametersError(
            "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\""
        )
    expires_seconds = _parse_expires(params["X-Amz-Expires"])
    scope = _parse_credential(params["X-Amz-Credential"], region, amz_date, _QUERY_ERRORS)
    signed_headers = _parse_signed_headers(params["X-Amz-SignedHeaders"], _QUERY_ERRORS)
    secret = _secret_or_raise(lookup, scope.access_key)
    _check_validity_window(request_time, expires_seconds, req.now)
    payload_hash = _presigned_payload_hash(req)
    mode, expected_sha256 = _payload_mode(payload_hash)
    _check_all_signed(req.headers, signed_headers)
    return _verify_signature(
        req,
        secret=secret,
        scope=scope,
        amz_date=amz_date,
        query=[(name, value) for name, value in req.query if name != "X-Amz-Signature"],
        signed_headers=signed_headers,
        payload_hash=payload_hash,
        provided=params["X-Amz-Signature"],
        mode=mode,
        expected_sha256=expected_sha256,
    )


# --- the signature itself --------------------------------------------------


@dataclass(frozen=True)
class _Scope:
    access_key: str
    date: str
    region: str

    @property
    def text(self) -> str:
        return f"{self.date}/{self.region}/{canonical.SERVICE}/{canonical.SCOPE_TERMINATOR}"


def _verify_signature(
    req: RequestView,
    *,
    secret: str,
    scope: _Scope,
    amz_date: str,
    query: list[tuple[str, str]],
    signed_headers: list[str],
    payload_hash: str,
    provided: str,
    mode: PayloadMode,
    expected_sha256: str | None,
) -> AuthResult:
    key = canonical.signing_key(secret, scope.date, scope.region)
    query_text = canonical.canonical_query(query)
    first: tuple[str, str] | None = None
    for uri in canonical.canonical_uri_candidates(req.raw_path):
        request_text = canonical.canonical_request(
            method=req.method,
            canonical_uri=uri,
            canonical_query_string=query_text,
            headers=req.headers,
            signed_headers=signed_headers,
            payload_hash=payload_hash,
        )
        to_sign = canonical.string_to_sign(amz_date, scope.text, request_text)
        if canonical.signatures_equal(canonical.signature(key, to_sign), provided):
            return AuthResult(
                access_key=scope.access_key,
                payload_mode=mode.value,
                expected_payload_sha256=expected_sha256,
                signing_key=key,
                scope=scope.text,
                seed_signature=provided,
                amz_date=amz_date,
            )
        first = first or (request_text, to_sign)
    assert first is not None
    raise SignatureDoesNotMatch(
        AWSAccessKeyId=scope.access_key,
        StringToSign=first[1],
        SignatureProvided=provided,
        CanonicalRequest=first[0],
    )


# --- parsing the two forms --------------------------------------------------

_CREDENTIAL_SHAPE = '"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request"'


@dataclass(frozen=True)
class _ErrorStyle:
    """How one auth form reports a malformed credential (class and message prefix)."""

    error: type[TesseraError]
    prefix: str


_HEADER_ERRORS = _ErrorStyle(
    AuthorizationHeaderMalformed, "The authorization header is malformed; "
)
_QUERY_ERRORS = _ErrorStyle(
    AuthorizationQueryParametersError, "Error parsing the X-Amz-Credential parameter; "
)


def _parse_authorization(header: str) -> dict[str, str]:
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm == "AWS":
        raise _sigv2_unsupported()
    if algorithm == "AWS4-ECDSA-P256-SHA256":
        raise S3NotImplemented(Header="Authorization")
    if algorithm != canonical.ALGORITHM:
        raise InvalidArgument("Unsupported Authorization Type", ArgumentName="Authorization")
    fields: dict[str, str] = {}
    for component in rest.split(","):
        name, sep, value = component.strip().partition("=")
        if not sep or name in fields:
            raise AuthorizationHeaderMalformed(
                f'{_HEADER_ERRORS.prefix}the authorization component "{component.strip()}" '
                "is malformed."
            )
        fields[name] = value.strip()
    if not {"Credential", "SignedHeaders", "Signature"} <= fields.keys():
        raise AuthorizationHeaderMalformed(
            f"{_HEADER_ERRORS.prefix}the authorization header requires three components: "
            "Credential, SignedHeaders, and Signature."
        )
    return fields


def _parse_credential(credential: str, region: str, amz_date: str, style: _ErrorStyle) -> _Scope:
    parts = credential.split("/")
    if len(parts) != 5 or not parts[0] or not re.fullmatch(r"\d{8}", parts[1]):
        raise style.error(
            f"{style.prefix}the Credential is mal-formed; expecting {_CREDENTIAL_SHAPE}."
        )
    access_key, date, scope_region, service, terminator = parts
    if scope_region != region:
        raise style.error(
            f"{style.prefix}the region '{scope_region}' is wrong; expecting '{region}'",
            Region=region,
        )
    if service != canonical.SERVICE:
        raise style.error(
            f'{style.prefix}incorrect service "{service}". This endpoint belongs to "s3".'
        )
    if terminator != canonical.SCOPE_TERMINATOR:
        raise style.error(
            f'{style.prefix}incorrect terminal "{terminator}". This endpoint uses "aws4_request".'
        )
    if date != amz_date[:8]:
        raise style.error(
            f'{style.prefix}Invalid credential date "{date}". '
            f'This date is not the same as X-Amz-Date: "{amz_date[:8]}".'
        )
    return _Scope(access_key=access_key, date=date, region=scope_region)


def _parse_signed_headers(text: str, style: _ErrorStyle) -> list[str]:
    names = [name.strip().lower() for name in text.split(";")]
    if not text or any(not name or ":" in name or " " in name for name in names):
        raise style.error(f"{style.prefix}the SignedHeaders are malformed.")
    return sorted(set(names))


_PRESIGNED_REQUIRED = (
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Signature",
    "X-Amz-Date",
    "X-Amz-SignedHeaders",
    "X-Amz-Expires",
)


def _presigned_params(query: list[tuple[str, str]]) -> dict[str, str]:
    params: dict[str, str] = {}
    for name, value in query:
        if name in _PRESIGNED_REQUIRED:
            if name in params:
                raise AuthorizationQueryParametersError(
                    f"Query-string authentication requires exactly one {name} parameter."
                )
            params[name] = value
    if len(params) != len(_PRESIGNED_REQUIRED):
        raise AuthorizationQueryParametersError(
            "Query-string authentication version 4 requires the X-Amz-Algorithm, "
            "X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, "
            "and X-Amz-Expires parameters."
        )
    return params


def _parse_expires(text: str) -> int:
    if not re.fullmatch(r"-?\d{1,12}", text):
        raise AuthorizationQueryParametersError("X-Amz-Expires should be a number")
    seconds = int(text)
    if seconds < 0:
        raise AuthorizationQueryParametersError("X-Amz-Expires must be non-negative")
    if seconds > PRESIGNED_EXPIRES_MAX_SECONDS:
        raise AuthorizationQueryParametersError(
            "X-Amz-Expires must be less than a week (in seconds); that is, the given "
            f"X-Amz-Expires must be less than {PRESIGNED_EXPIRES_MAX_SECONDS} seconds"
        )
    return seconds


def _presigned_payload_hash(req: RequestView) -> str:
    """The payload hash a presigned request signed: query, then header, else unsigned."""
    for name, value in req.query:
        if name == "X-Amz-Content-Sha256":
            return value
    header = req.headers.get("x-amz-content-sha256")
    return header if header is not None else PayloadMode.UNSIGNED.value


# --- time --------------------------------------------------------------------

_DATE_REQUIRED = "AWS authentication requires a valid Date or x-amz-date header"


# Concurrent requests carry the same second: the parse (strptime) is cached.
AMZ_DATES_CACHED = 64


@functools.lru_cache(maxsize=AMZ_DATES_CACHED)
def _parse_amz_date(text: str) -> datetime | None:
    if not re.fullmatch(r"\d{8}T\d{6}Z", text):
        return None
    try:
        return datetime.strptime(text, AMZ_DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def _header_request_time(headers: Mapping[str, str]) -> tuple[str, datetime]:
    """The signed request time, from x-amz-date or else Date, as (amz_date, datetime)."""
    amz_date = headers.get("x-amz-date")
    if amz_date is not None:
        parsed = _parse_amz_date(amz_date.strip())
        if parsed is None:
            raise AccessDenied(_DATE_REQUIRED)
        return amz_date.strip(), parsed
    http_date = headers.get("date")
    if http_date is None:
        raise AccessDenied(_DATE_REQUIRED)
    try:
        parsed = parsedate_to_datetime(http_date)
    except (TypeError, ValueError, IndexError):
        raise AccessDenied(_DATE_REQUIRED) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    parsed = parsed.astimezone(UTC)
    return parsed.strftime(AMZ_DATE_FORMAT), parsed


def _check_skew(request_time: datetime, amz_date: str, now: datetime) -> None:
    if abs((now - request_time).total_seconds()) > CLOCK_SKEW_MAX_SECONDS:
        raise RequestTimeTooSkewed(
            "The difference between the request time and the current time is too large.",
            RequestTime=amz_date,
            ServerTime=_iso(now),
            MaxAllowedSkewMilliseconds=str(CLOCK_SKEW_MAX_SECONDS * 1000),
        )


def _check_validity_window(request_time: datetime, expires_seconds: int, now: datetime) -> None:
    if now < request_time - timedelta(seconds=CLOCK_SKEW_MAX_SECONDS):
        raise AccessDenied("Request is not valid yet")
    expires_at = request_time + timedelta(seconds=expires_seconds)
    if now > expires_at:
        raise AccessDenied(
            "Request has expired",
            **{"X-Amz-Expires": str(expires_seconds)},
            Expires=_iso(expires_at),
            ServerTime=_iso(now),
        )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _assert_aware(now: datetime) -> None:
    assert now.tzinfo is not None, "RequestView.now must be timezone-aware"


# --- payload and header policy ------------------------------------------------

_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")
_STREAMING_MODES = {mode.value: mode for mode in PayloadMode if mode is not PayloadMode.SHA256}


def _payload_mode(value: str) -> tuple[PayloadMode, str | None]:
    if value in _STREAMING_MODES:
        return _STREAMING_MODES[value], None
    if _SHA256_HEX.fullmatch(value):
        return PayloadMode.SHA256, value.lower()
    raise InvalidArgument(
        "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, "
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, "
        "or a valid sha256 value.",
        ArgumentName="x-amz-content-sha256",
        ArgumentValue=value,
    )


# x-amz-content-sha256 may go unsigned (S3 tolerates it): its value is the
# payload-hash line of the canonical request, so the signature covers it anyway.
_MAY_BE_UNSIGNED = frozenset({"x-amz-content-sha256"})


def _check_all_signed(headers: Mapping[str, str], signed_headers: list[str]) -> None:
    """Host and every x-amz-* header present must be signed, as S3 requires."""
    signed = set(signed_headers)
    present = {name.lower() for name in headers}
    must_sign = {name for name in present if name.startswith("x-amz-")} | {"host"}
    missing = sorted(must_sign - signed - _MAY_BE_UNSIGNED)
    if missing:
        raise AccessDenied(
            "There were headers present in the request which were not signed",
            HeadersNotSigned=", ".join(missing),
        )


def _secret_or_raise(lookup: SecretLookup, access_key: str) -> str:
    secret = lookup(access_key)
    if secret is None:
        raise InvalidAccessKeyId(AWSAccessKeyId=access_key)
    return secret


def _sigv2_unsupported() -> TesseraError:
    return InvalidRequest(
        "The authorization mechanism you have provided is not supported. "
        "Please use AWS4-HMAC-SHA256."
    )
