"""The gRPC edge shared by every role: channel options, the cluster-secret
check, and carrying TesseraError across a call.

Invariant: a server never runs a handler for a call that lacks the cluster
secret; an error raised by a handler reaches the caller as the same
TesseraError class (its S3 code travels in trailing metadata).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import grpc.aio

from tessera import errors, limits

SECRET_HEADER = "x-tessera-secret"
S3_CODE_HEADER = "x-tessera-s3-code"

CHANNEL_OPTIONS: list[tuple[str, Any]] = [
    ("grpc.max_send_message_length", limits.GRPC_MESSAGE_MAX_BYTES),
    ("grpc.max_receive_message_length", limits.GRPC_MESSAGE_MAX_BYTES),
    ("grpc.http2.write_buffer_size", 1024 * 1024),
    # A fixed 1 MiB receive window per stream instead of BDP probing: on
    # loopback the probe grew each GetShard stream's window to many MiB, so a
    # gateway streaming a 256 MiB object held 60-130 MiB of shard data it had
    # not asked for yet. Fixed, the growth is ~10 MiB at about the same speed.
    ("grpc.http2.bdp_probe", 0),
    ("grpc.http2.lookahead_bytes", 1024 * 1024),
    ("grpc.keepalive_time_ms", 20_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 2_000),
    ("grpc.min_reconnect_backoff_ms", 200),
]

SERVER_OPTIONS: list[tuple[str, Any]] = [
    ("grpc.max_send_message_length", limits.GRPC_MESSAGE_MAX_BYTES),
    ("grpc.max_receive_message_length", limits.GRPC_MESSAGE_MAX_BYTES),
    ("grpc.so_reuseport", 0),
    ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
    ("grpc.keepalive_permit_without_calls", 1),
]


def call_metadata(secret: str) -> tuple[tuple[str, str], ...]:
    """Metadata to attach to every outgoing internal call."""
    return ((SECRET_HEADER, secret),)


class SecretInterceptor(grpc.aio.ServerInterceptor):
    """Rejects calls that do not carry the cluster secret."""

    def __init__(self, secret: str) -> None:
        self._secret = secret.encode()

        async def deny(request: Any, context: grpc.aio.ServicerContext) -> None:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "bad cluster secret")

        self._deny = grpc.unary_unary_rpc_method_handler(deny)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        for key, value in handler_call_details.invocation_metadata or ():
            if key == SECRET_HEADER:
                given = value.encode() if isinstance(value, str) else value
                if hmac.compare_digest(given, self._secret):
                    return await continuation(handler_call_details)
        return self._deny


def new_server(secret: str) -> grpc.aio.Server:
    return grpc.aio.server(interceptors=[SecretInterceptor(secret)], options=SERVER_OPTIONS)


def new_channel(address: str) -> grpc.aio.Channel:
    return grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS)


async def abort_with(context: grpc.aio.ServicerContext, error: errors.TesseraError) -> None:
    """Ends the call with the error's gRPC status and its S3 code in trailers."""
    context.set_trailing_metadata(((S3_CODE_HEADER, error.code),))
    await context.abort(getattr(grpc.StatusCode, errors.grpc_status_for(error)), error.message)


def error_from_rpc(exc: grpc.aio.AioRpcError) -> errors.TesseraError:
    """The TesseraError a failed call stands for (ServiceUnavailable if none)."""
    return error_from_status(exc.code(), exc.details(), s3_code_of(exc))


def s3_code_of(exc: grpc.aio.AioRpcError) -> str:
    """The S3 error code a failed call's trailers name ("" when none)."""
    trailers: Any = exc.trailing_metadata() or ()
    return next((str(value) for key, value in trailers if key == S3_CODE_HEADER), "")


def error_from_status(
    code: grpc.StatusCode, details: str | None, s3_code: str
) -> errors.TesseraError:
    """The TesseraError a call that failed with this status and S3 code
    stands for (ServiceUnavailable if it names none and the call could not
    be made or timed out)."""
    if s3_code:
        return errors.from_code(s3_code, details)
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return errors.ServiceUnavailable(f"internal call failed: {code.name}")
    return errors.InternalError(f"internal call failed: {code.name}: {details}")
