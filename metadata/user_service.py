"""The identity RPCs of the Metadata servicer: users, access keys and KMS keys.

Creating, deleting and listing users; creating, revoking, reading and
listing their access keys; creating, reading and listing KMS keys
(docs/access.md, docs/encryption.md). A mixin of MetadataService
(service.py).

Invariant: secrets cross this edge only sealed (an access key's secret) or
wrapped (a KMS key's material); they are stored as the hex of those bytes,
never in the clear.
"""

from __future__ import annotations

from typing import Any

from metadata import mutations
from metadata.service_core import ServiceCore, rpc
from proto import convert
from proto import tessera_pb2 as pb
from tessera import access
from tessera.ids import new_request_id
from tessera.model import AccessKeyInfo, KmsKeyInfo, UserInfo


class UserRpcs(ServiceCore):
    @rpc
    async def CreateUser(self, request: pb.UserName, context: Any) -> pb.UserRecord:
        user = await self._submit(
            mutations.CreateUser(
                request.request_id or new_request_id(), request.name, self._clock()
            ),
            UserInfo,
        )
        return convert.user_to_pb(user)

    @rpc
    async def DeleteUser(self, request: pb.UserName, context: Any) -> pb.Empty:
        await self._log.submit(
            mutations.DeleteUser(
                request.request_id or new_request_id(),
                request.name,
                access.owner_id(request.name),
            )
        )
        return pb.Empty()

    @rpc
    async def ListUsers(self, request: pb.Empty, context: Any) -> pb.ListUsersResponse:
        users = await self._strong_read(context, self._state.list_users)
        return pb.ListUsersResponse(users=[convert.user_to_pb(u) for u in users])

    @rpc
    async def CreateAccessKey(
        self, request: pb.CreateAccessKeyRequest, context: Any
    ) -> pb.AccessKeyRecord:
        key = request.key
        created = await self._submit(
            mutations.CreateAccessKey(
                request.request_id or new_request_id(),
                key.access_key_id,
                key.user,
                bytes(key.sealed_secret).hex(),
                self._clock(),
            ),
            AccessKeyInfo,
        )
        return convert.access_key_to_pb(created)

    @rpc
    async def RevokeAccessKey(self, request: pb.AccessKeyId, context: Any) -> pb.Empty:
        await self._log.submit(
            mutations.RevokeAccessKey(request.request_id or new_request_id(), request.access_key_id)
        )
        return pb.Empty()

    @rpc
    async def GetAccessKey(self, request: pb.AccessKeyId, context: Any) -> pb.AccessKeyRecord:
        key = await self._strong_read(context, self._state.get_access_key, request.access_key_id)
        return convert.access_key_to_pb(key)

    @rpc
    async def ListAccessKeys(self, request: pb.UserName, context: Any) -> pb.ListAccessKeysResponse:
        found = await self._strong_read(context, self._state.list_access_keys, request.name)
        return pb.ListAccessKeysResponse(keys=[convert.access_key_to_pb(k) for k in found])

    @rpc
    async def CreateKmsKey(self, request: pb.CreateKmsKeyRequest, context: Any) -> pb.KmsKeyRecord:
        key = request.key
        created = await self._submit(
            mutations.CreateKmsKey(
                request.request_id or new_request_id(),
                key.key_id,
                key.alias,
                bytes(key.wrapped_key).hex(),
                self._clock(),
            ),
            KmsKeyInfo,
        )
        return convert.kms_key_to_pb(created)

    @rpc
    async def GetKmsKey(self, request: pb.KmsKeyLookup, context: Any) -> pb.KmsKeyRecord:
        key = await self._strong_read(context, self._state.get_kms_key, request.key)
        return convert.kms_key_to_pb(key)

    @rpc
    async def ListKmsKeys(self, request: pb.Empty, context: Any) -> pb.ListKmsKeysResponse:
        found = await self._strong_read(context, self._state.list_kms_keys)
        return pb.ListKmsKeysResponse(keys=[convert.kms_key_to_pb(k) for k in found])
