"""The lifecycle worker: carries out buckets' lifecycle rules (docs/lifecycle.md).

Run by the replica that leads repair (metadata/election.py), every
interval_seconds: after a read at the log's head, it walks the versions of
every bucket that has rules — under the rules' prefixes only
(tessera.lifecycle.scan_prefixes) — in key order, page by page, evaluates each
key's records with tessera.lifecycle.plan_key, and submits what is due as
ordinary DeleteObject / AbortMultipartUpload mutations through the same
mutation log as a client's delete — so every check those effects make
(Object Lock included) applies to lifecycle as well. At most
actions_per_second mutations are submitted, up to IN_FLIGHT_MAX at once so
that group commit shares log appends among them.

Invariants:
- a delete decided on a read is applied only if the key has not changed in
  the way that matters since (DeleteObject's if_newest_version_id /
  if_not_newest guards, decided at apply time): a version written after the
  read is never removed by a rule that judged an older one;
- a key is acted on only once all its records were read (a page boundary
  inside a key is carried over), so a version is never judged without the
  newer records that make it noncurrent;
- the worker never removes shards itself: removed versions and aborted parts
  are unreferenced, and GC (metadata/gc.py) reclaims them after its grace.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, TypeVar

from metadata import metrics
from metadata.commit import MutationLog
from metadata.mutations import AbortMultipartUpload, DeleteObject, Mutation
from metadata.repair import CONSISTENT_READ_SECONDS, Consistent
from metadata.state import StateMachine
from tessera import errors, lifecycle
from tessera.ids import new_request_id, new_version_id
from tessera.lifecycle import Action, Rule, VersionFacts
from tessera.model import BucketInfo, ObjectDeleted, ObjectVersion

log = logging.getLogger(__name__)

T = TypeVar("T")
PAGE_RECORDS = 1000
IN_FLIGHT_MAX = 32  # lifecycle mutations submitted and not yet answered


class LifecycleWorker:
    def __init__(
        self,
        *,
        state: StateMachine,
        mutation_log: MutationLog,
        consistent: Consistent,
        reads: Executor,
        is_leader: Callable[[], bool],
        day_seconds: float,
        interval_seconds: float,
        actions_per_second: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        assert day_seconds > 0 and interval_seconds > 0 and actions_per_second > 0
        self._state = state
        self._log = mutation_log
        self._consistent = consistent
        self._reads = reads
        self._is_leader = is_leader
        self._day_seconds = day_seconds
        self._interval = interval_seconds
        self._pause = 1.0 / actions_per_second
        self._clock = clock
        self._next_action_at = 0.0
        self.actions: dict[str, int] = {}  # action: done, since start (for tests and logs)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            if not self._is_leader():
                continue
            try:
                await self.run_once()
            except (errors.TesseraError, OSError) as exc:
                log.warning("lifecycle pass failed: %s", exc)
                metrics.LIFECYCLE_PASSES.labels("partial").inc()
            except Exception:  # a bug must not take the metadata replica down
                log.exception("lifecycle pass failed")
                metrics.LIFECYCLE_PASSES.labels("partial").inc()

    async def run_once(self) -> int:
        """One pass over every bucket with rules; returns the actions done."""
        started = time.monotonic()
        await self._consistent(CONSISTENT_READ_SECONDS)
        buckets = await self._read(self._state.list_buckets)
        done = 0
        outcome = "ok"
        for bucket in buckets:
            if not bucket.lifecycle or not self._is_leader():
                continue
            try:
                rules = lifecycle.rules_from_json(bucket.lifecycle)
                for prefix in lifecycle.scan_prefixes(rules):
                    done += await self._versions(bucket, rules, prefix)
                for prefix in lifecycle.scan_prefixes(rules, uploads=True):
                    done += await self._uploads(bucket, rules, prefix)
            except errors.NoSuchBucket:
                continue  # deleted meanwhile
            except errors.TesseraError as exc:
                log.warning("lifecycle: bucket %s skipped this pass: %s", bucket.name, exc)
                outcome = "partial"
        metrics.LIFECYCLE_PASSES.labels(outcome).inc()
        metrics.LIFECYCLE_PASS_SECONDS.set(time.monotonic() - started)
        if done:
            log.info("lifecycle: %d actions done", done)
        return done

    # ------------------------------------------------------------ versions

    async def _versions(self, bucket: BucketInfo, rules: list[Rule], prefix: str) -> int:
        done = 0
        key_marker = version_marker = ""
        pending: list[ObjectVersion] = []
        while True:
            page = await self._read(
                self._state.list_versions,
                bucket.name,
                prefix,
                "",
                key_marker,
                version_marker,
                PAGE_RECORDS,
            )
            due: list[tuple[Action, Mutation]] = []
            for version, _ in page.versions:
                if pending and version.key != pending[0].key:
                    due += self._plan_key(bucket, rules, pending)
                    pending = []
                pending.append(version)
            metrics.LIFECYCLE_SCANNED_RECORDS.inc(len(page.versions))
            done += await self._submit_all(due)
            # The page's last record belongs to the key still pending, which
            # nothing has touched yet: the markers stay valid.
            if not page.is_truncated or not page.next_key_marker:
                break
            key_marker, version_marker = page.next_key_marker, page.next_version_id_marker
        if pending:
            done += await self._submit_all(self._plan_key(bucket, rules, pending))
        return done

    def _plan_key(
        self, bucket: BucketInfo, rules: list[Rule], records: list[ObjectVersion]
    ) -> list[tuple[Action, Mutation]]:
        facts = [
            VersionFacts(
                version_id=v.version_id,
                last_modified=v.last_modified,
                delete_marker=v.delete_marker,
                size_bytes=v.size_bytes,
                tags=v.tags,
            )
            for v in records
        ]
        key = records[0].key
        return [
            (action, self._mutation(bucket, key, record, action))
            for record, action in lifecycle.plan_key(
                rules, key, facts, self._clock(), self._day_seconds
            )
        ]

    def _mutation(
        self, bucket: BucketInfo, key: str, record: VersionFacts, action: Action
    ) -> DeleteObject:
        request_id = new_request_id()
        if action == Action.EXPIRE_CURRENT and bucket.versioning:
            now = self._clock()
            return DeleteObject(
                request_id,
                bucket.name,
                key,
                marker_version_id=new_version_id(now),
                last_modified=now,
                if_newest_version_id=record.version_id,
            )
        if action == Action.DELETE_NONCURRENT:
            return DeleteObject(
                request_id, bucket.name, key, version_id=record.version_id, if_not_newest=True
            )
        # The current version of an unversioned bucket, or a lone delete marker.
        return DeleteObject(
            request_id,
            bucket.name,
            key,
            version_id=record.version_id,
            if_newest_version_id=record.version_id,
        )

    # ------------------------------------------------------------ uploads

    async def _uploads(self, bucket: BucketInfo, rules: list[Rule], prefix: str) -> int:
        done = 0
        key_marker = upload_marker = ""
        while True:
            page = await self._read(
                self._state.list_uploads,
                bucket.name,
                prefix,
                "",
                key_marker,
                upload_marker,
                PAGE_RECORDS,
            )
            metrics.LIFECYCLE_SCANNED_RECORDS.inc(len(page.uploads))
            due: list[tuple[Action, Mutation]] = [
                (
                    Action.ABORT_UPLOAD,
                    AbortMultipartUpload(new_request_id(), bucket.name, u.key, u.upload_id),
                )
                for u in page.uploads
                if lifecycle.upload_due(rules, u.key, u.initiated, self._clock(), self._day_seconds)
            ]
            done += await self._submit_all(due)
            if not page.is_truncated or not page.uploads:
                break
            key_marker, upload_marker = page.uploads[-1].key, page.uploads[-1].upload_id
        return done

    # ------------------------------------------------------------ submitting

    async def _submit_all(self, due: list[tuple[Action, Mutation]]) -> int:
        """Submits at the throttled rate, up to IN_FLIGHT_MAX at once, so that
        group commit shares one log append among them; returns how many were done."""
        if not due:
            return 0
        slots = asyncio.Semaphore(IN_FLIGHT_MAX)
        results: list[bool] = []

        async def one(action: Action, mutation: Mutation) -> None:
            try:
                results.append(await self._submit(action, mutation))
            finally:
                slots.release()

        async with asyncio.TaskGroup() as tasks:
            for action, mutation in due:
                if not self._is_leader():
                    break  # the new leader carries on from its own read
                await slots.acquire()
                await self._throttle()
                tasks.create_task(one(action, mutation))
        return sum(results)

    async def _submit(self, action: Action, mutation: Mutation) -> bool:
        try:
            result = await self._log.submit(mutation)
        except errors.PreconditionFailed:
            outcome = "skipped"
        except (errors.ServiceUnavailable, errors.InternalError) as exc:
            log.warning("lifecycle: %s failed: %s", action.value, exc)
            outcome = "failed"
        except (errors.NoSuchUpload, errors.NoSuchKey, errors.NoSuchVersion):
            outcome = "skipped"  # gone meanwhile
        except errors.TesseraError as exc:
            log.info("lifecycle: %s refused: %s %s", action.value, exc.code, exc.message)
            outcome = "refused"
        else:
            outcome = "skipped" if _removed_nothing(result) else "done"
        if outcome == "done":
            self.actions[action.value] = self.actions.get(action.value, 0) + 1
        metrics.LIFECYCLE_ACTIONS.labels(action.value, outcome).inc()
        return outcome == "done"

    async def _throttle(self) -> None:
        now = time.monotonic()
        if self._next_action_at > now:
            await asyncio.sleep(self._next_action_at - now)
        self._next_action_at = max(now, self._next_action_at) + self._pause

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._reads, fn, *args)


def _removed_nothing(result: object) -> bool:
    """A delete whose record was already gone (removed by a client meanwhile)."""
    if isinstance(result, ObjectDeleted):
        return result.removed is None and result.marker is None
    return result is None
