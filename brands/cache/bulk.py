"""Import and export of a brand's keys as JSON lines (docs/contract.md#import-and-export).

Import streams: the source is read in 64 KiB chunks and each line is handled on its own, so
memory stays the same whatever the file holds. A line longer than the brand's value limit plus
LINE_OVERHEAD_BYTES is refused from its length alone, before it is decoded or parsed (and its
bytes are skipped, never kept). Every other problem of a line (UTF-8, JSON syntax, nesting
depth, a number out of the double range, the key, the TTL, the value size, the key limit, an
existing key under the chosen policy) is a refusal of that line with a reason a person can act
on; the other lines go on.

Writes are sent in pipelined batches of BATCH_LINES lines, each line still its own atomic SET
script (so the key limit stays exact under concurrency). A batch is sent, and its answers are
read only when the next batch is ready: Redis runs one batch while Python parses the next (the
two took turns before, and each took about half the time). Before each batch is sent, the
answers of the one before are in and a PING checks that Redis answers: when it does not, nothing
of that batch was sent, so the report's ``written`` is exactly what Redis holds; when the
connection breaks while a batch is in flight, the report says how many lines were sent without
an answer (``unconfirmed``).
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from redis.exceptions import NoScriptError, ResponseError

from brands.cache import validation
from brands.cache.connection import UNAVAILABLE_ERRORS
from brands.cache.errors import (
    CacheKeyError,
    CacheTTLError,
    CacheUnavailable,
    CacheValueError,
    ImportInterrupted,
)
from brands.cache.scripts import SCRIPTS
from brands.cache.types import ImportReport

if TYPE_CHECKING:
    from brands.cache.service import BrandCache

# Room on a line besides the value: the key (up to 200 characters), the TTL, the field names,
# quotes, commas and some whitespace. An exported line always fits in value + 300 bytes.
LINE_OVERHEAD_BYTES = 1024
BATCH_LINES = 1000
READ_CHUNK_BYTES = 64 * 1024
REFUSALS_LISTED = 100

OVERWRITE, SKIP, STOP = "overwrite", "skip", "stop"
IMPORT_POLICIES = {
    OVERWRITE: "overwrite existing keys",
    SKIP: "skip existing keys",
    STOP: "stop at the first existing key",
}


def max_line_bytes(max_value_bytes: int) -> int:
    return max_value_bytes + LINE_OVERHEAD_BYTES


# ---------------------------------------------------------------------------- reading lines


def _chunked_lines(read, limit: int) -> Iterator[tuple[int, bytes | None, int]]:
    """(line number, line without its end or None when longer than ``limit``, length in bytes).
    A too-long line is counted while it is skipped; at most ``limit`` bytes are ever kept."""
    number = 0
    pending = b""
    skipped = 0  # > 0 while inside a line already known to be too long
    while True:
        chunk = read(READ_CHUNK_BYTES)
        if not chunk:
            break
        if isinstance(chunk, str):  # a text-mode file
            chunk = chunk.encode("utf-8")
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            piece = chunk[start:] if end < 0 else chunk[start:end]
            if skipped:
                skipped += len(piece)
            elif len(pending) + len(piece) > limit:
                skipped, pending = len(pending) + len(piece), b""
            else:
                pending += piece
            if end < 0:
                break
            number += 1
            if skipped:
                yield number, None, skipped
            else:
                yield number, pending, len(pending)
            pending, skipped, start = b"", 0, end + 1
    if pending or skipped:
        number += 1
        yield (number, None, skipped) if skipped else (number, pending, len(pending))


def _iterated_lines(lines: Iterable[str | bytes], limit: int) -> Iterator[tuple[int, bytes | None, int]]:
    for number, line in enumerate(lines, start=1):
        raw = line.encode("utf-8", "surrogatepass") if isinstance(line, str) else bytes(line)
        raw = raw[:-1] if raw.endswith(b"\n") else raw
        yield (number, None, len(raw)) if len(raw) > limit else (number, raw, len(raw))


def read_lines(source: Any, limit: int) -> Iterator[tuple[int, bytes | None, int]]:
    """Lines of a file object (read in chunks: constant memory) or of an iterable of lines
    (already in memory: only the length check applies before parsing)."""
    if hasattr(source, "read"):
        return _chunked_lines(source.read, limit)
    return _iterated_lines(source, limit)


# ---------------------------------------------------------------------------- one line


class LineRefused(Exception):
    def __init__(self, reason: str, key: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.key = key


def _shown_key(key: Any) -> str:
    return validation.shorten(key if isinstance(key, str) else json.dumps(key, default=str)[:60])


def parse_line(raw: bytes, number: int) -> dict | None:
    """The object on one line, or None for a blank line; LineRefused says what is wrong."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LineRefused(f"not valid UTF-8 (byte {exc.start + 1} of the line)") from None
    if number == 1:
        text = text.removeprefix("\ufeff")  # a byte-order mark some editors write
    text = text.rstrip("\r")
    if not text.strip():
        return None
    try:
        record = validation.parse_json_text(text)
    except CacheValueError as exc:
        raise LineRefused(str(exc)) from None
    if not isinstance(record, dict):
        raise LineRefused('expected an object such as {"key": "a", "value": 1, "ttl": 60}')
    if "key" not in record or "value" not in record:
        missing = " and ".join(f'"{name}"' for name in ("key", "value") if name not in record)
        raise LineRefused(f"the object has no {missing}", _shown_key(record.get("key", "")))
    return record


# ---------------------------------------------------------------------------- the import


class _Pipe:
    """One connection for the import's writes, with sending and reading apart: a batch of
    commands goes out at once and its answers are read later (redis-py's Pipeline does both in
    one call). At most one batch is in flight."""

    def __init__(self, client) -> None:
        self.pool = client.connection_pool
        self.connection = None
        self.pending = 0

    def send(self, commands: list[tuple]) -> None:
        if self.connection is None:
            self.connection = self.pool.get_connection()
        self.pending = len(commands)
        self.connection.send_packed_command(self.connection.pack_commands(commands), check_health=False)

    def replies(self) -> list[Any]:
        answers: list[Any] = []
        while self.pending:
            try:
                answers.append(self.connection.read_response())
            except ResponseError as exc:  # an error reply, read whole: the next one follows
                answers.append(exc)
            self.pending -= 1
        return answers

    def close(self) -> None:
        if self.connection is None:
            return
        if self.pending:  # answers never read: the connection cannot serve anyone else
            self.connection.disconnect()
        self.pool.release(self.connection)
        self.connection = None


class _Import:
    def __init__(self, cache: BrandCache, *, policy: str, dry_run: bool, listed: int) -> None:
        if policy not in IMPORT_POLICIES:
            raise ValueError(f"unknown import policy {policy!r}; one of {', '.join(IMPORT_POLICIES)}")
        self.cache = cache
        self.limits = cache.limits
        self.policy = policy
        self.dry_run = dry_run
        self.listed = listed
        self.report = ImportReport(policy=policy, dry_run=dry_run)
        self.batch: list[tuple[int, str, str, int]] = []  # line, key, JSON text, TTL ms
        self.size_refusals = 0
        # Dry run: live keys at the start, and the keys the file would create (at most
        # max_keys of them: past that every new key is refused, so memory stays bounded).
        self.live = 0
        self.created: set[str] = set()
        self.stop = False
        self._refused: list[tuple[int, str, str]] = []
        # A single server: one held connection, sends and reads apart. Redis Cluster: None.
        client = cache.client
        self.pipe = _Pipe(client) if getattr(client, "connection_pool", None) is not None else None
        self.in_flight: list[tuple[int, str, str, int]] | None = None

    # --------------------------------------------------------------- refusals

    def refuse(self, number: int, key: str, reason: str) -> None:
        # The first `listed` refusals by line number. They do not arrive in line order (a
        # batch's key-limit refusals come in after the next batch was parsed), so they are kept
        # in a heap of the smallest line numbers (negated: heapq pops the smallest) and sorted
        # at the end.
        self.report.refused_count += 1
        heapq.heappush(self._refused, (-number, key, reason))
        if len(self._refused) > self.listed:
            heapq.heappop(self._refused)

    def limit_reason(self, key: str) -> str:
        # The same words as the service's warning (docs/contract.md#key-limit).
        return (f"key limit of {self.limits.max_keys} keys reached; key {validation.describe(key)} "
                "was not created")

    def too_long(self, number: int, length: int) -> None:
        limit = max_line_bytes(self.limits.max_value_bytes)
        self.refuse(number, "", (
            f"the line is {length:,} bytes, longer than the {limit:,} bytes a line may have here "
            f"(the brand's {self.limits.max_value_bytes:,}-byte value limit plus "
            f"{LINE_OVERHEAD_BYTES:,} bytes for the key, TTL and field names); not read"
        ))

    # --------------------------------------------------------------- lines

    def line(self, number: int, raw: bytes) -> None:
        try:
            record = parse_line(raw, number)
        except LineRefused as exc:
            self.report.lines += 1
            self.refuse(number, exc.key, exc.reason)
            return
        if record is None:
            return
        self.report.lines += 1
        key = record["key"]
        try:
            key = validation.validate_key(key)
            seconds, clamped = validation.ttl_seconds(
                record.get("ttl"), default_ttl=self.limits.default_ttl, max_ttl=self.limits.max_ttl
            )
            text = validation.to_json(record["value"])
        except (CacheKeyError, CacheTTLError, CacheValueError) as exc:
            self.refuse(number, _shown_key(key), str(exc))
            return
        size = validation.utf8_size(text)
        if size > self.limits.max_value_bytes:
            self.refuse(number, key, (
                f"value for key {validation.describe(key)} is {size} bytes as compact JSON, above "
                f"the limit of {self.limits.max_value_bytes} bytes; not written"
            ))
            self.size_refusals += 1
            return
        if clamped:
            self.report.clamped += 1
        self.batch.append((number, key, text, seconds * 1000))
        if len(self.batch) >= BATCH_LINES:
            self.flush()

    # --------------------------------------------------------------- batches

    def flush(self) -> None:
        batch, self.batch = self.batch, []
        refusals, self.size_refusals = self.size_refusals, 0
        if not batch and not refusals:
            return
        self.collect()  # the batch in flight first: its answers decide nothing here, but count
        client = self.cache.client
        try:
            self.ping()  # nothing of this batch is sent unless Redis answers
        except UNAVAILABLE_ERRORS as exc:
            self.interrupted(batch, sent=False, cause=exc)
        try:
            if self.dry_run:
                self.simulate(batch)
            elif self.policy == STOP:
                self.write_until_existing(batch)
            else:
                self.send(batch)
            if refusals and not self.dry_run:
                SCRIPTS.run_many(client, "COUNT_REFUSAL", [
                    (self.cache.keys.script_keys(), ["value_size"])
                ] * refusals)
        except UNAVAILABLE_ERRORS as exc:
            self.interrupted(batch, sent=True, cause=exc)

    def interrupted(self, batch, *, sent: bool, cause: BaseException) -> None:
        self.report.interrupted_at = batch[0][0] if batch else None
        if sent and not self.dry_run:
            # Written or not: the answers never came. ``written`` stays what Redis confirmed;
            # the report says how many more lines may have been written.
            self.report.unconfirmed = len(batch)
        raise ImportInterrupted(self.report) from cause

    def _outcomes(self, batch, only_if_absent: bool) -> list[Any]:
        flag = "1" if only_if_absent else "0"
        return SCRIPTS.run_many(self.cache.client, "SET", [
            self.cache._set_call(key, text, ttl_ms, flag) for _number, key, text, ttl_ms in batch
        ])

    def ping(self) -> None:
        client = self.cache.client
        node_for = getattr(client, "get_node_from_key", None)  # Redis Cluster: the brand's node
        if node_for is None:
            client.ping()
        else:
            client.execute_command("PING", target_nodes=node_for(self.cache.keys.stats))

    def send(self, batch) -> None:
        """Overwrite / skip: the batch goes out now; its answers are read by ``collect``. On
        Redis Cluster (no single connection to hold) it is written and answered at once, through
        the cluster pipeline of SCRIPTS.run_many."""
        if self.pipe is None:
            for (number, key, _text, _ttl), outcome in zip(
                batch, self._outcomes(batch, self.policy == SKIP), strict=True
            ):
                self.count(number, key, outcome)
            return
        script = SCRIPTS.get("SET", self.cache.client)
        flag = "1" if self.policy == SKIP else "0"
        commands = []
        for _number, key, text, ttl_ms in batch:
            keys, args = self.cache._set_call(key, text, ttl_ms, flag)
            commands.append(("EVALSHA", script.sha, len(keys), *keys, *args))
        self.in_flight = batch
        self.pipe.send(commands)

    def collect(self) -> None:
        batch, self.in_flight = self.in_flight, None
        if batch is None:
            return
        try:
            outcomes = self.pipe.replies()
        except UNAVAILABLE_ERRORS as exc:
            self.interrupted(batch, sent=True, cause=exc)
        missing = [i for i, outcome in enumerate(outcomes) if isinstance(outcome, NoScriptError)]
        if missing:  # the script was flushed or Redis restarted: load it, write those again
            retried = self._outcomes([batch[i] for i in missing], self.policy == SKIP)
            for i, outcome in zip(missing, retried, strict=True):
                outcomes[i] = outcome
        for outcome in outcomes:
            if isinstance(outcome, Exception):
                raise outcome
        for (number, key, _text, _ttl), outcome in zip(batch, outcomes, strict=True):
            self.count(number, key, outcome)

    def count(self, number: int, key: str, outcome: int) -> None:
        if outcome == 1:
            self.report.written += 1
        elif outcome == 0:
            self.report.skipped += 1
        else:
            self.refuse(number, key, self.limit_reason(key))

    def write_until_existing(self, batch) -> None:
        """Policy "stop": the batch's keys are looked up first (one round trip) and only the
        lines before the first existing key are written, each only if still absent (a key
        created by someone else meanwhile stops the import there too)."""
        existing = self.existing(batch)
        cut = len(batch)
        seen: set[str] = set()
        for index, (_number, key, _text, _ttl) in enumerate(batch):
            if existing[index] or key in seen:
                cut = index
                break
            seen.add(key)
        if cut:
            for (number, key, _text, _ttl), outcome in zip(
                batch[:cut], self._outcomes(batch[:cut], True), strict=True
            ):
                if outcome == 0 and self.report.stopped_at is None:
                    self.report.stopped_at = (number, key)
                elif outcome != 0:
                    self.count(number, key, outcome)
        if cut < len(batch) and self.report.stopped_at is None:
            self.report.stopped_at = (batch[cut][0], batch[cut][1])
        if self.report.stopped_at is not None:
            self.stop = True

    def existing(self, batch) -> list[bool]:
        pipe = self.cache.client.pipeline(transaction=False)
        for _number, key, _text, _ttl in batch:
            pipe.exists(self.cache.keys.value(key))
        return [bool(found) for found in pipe.execute()]

    def simulate(self, batch) -> None:
        """Dry run: what each line would do, from the keys that exist now and the brand's live
        count at the start; nothing is written (not even the refusal counters)."""
        existing = self.existing(batch)
        for index, (number, key, _text, _ttl) in enumerate(batch):
            exists = existing[index] or key in self.created
            if exists and self.policy == SKIP:
                self.report.skipped += 1
            elif exists and self.policy == STOP:
                self.report.stopped_at = (number, key)
                self.stop = True
                return
            elif exists:
                self.report.written += 1
            elif self.live + len(self.created) >= self.limits.max_keys:
                self.refuse(number, key, self.limit_reason(key))
            else:
                self.created.add(key)
                self.report.written += 1

    # --------------------------------------------------------------- the whole file

    def run(self, source: Any) -> ImportReport:
        limit = max_line_bytes(self.limits.max_value_bytes)
        try:  # nothing is read before Redis answered
            if self.dry_run:
                self.live = self.cache.live_count()
            else:  # batches are sent by EVALSHA: the script must be there (on the brand's node)
                SCRIPTS.load("SET", self.cache.client, self.cache.keys.stats)
        except (CacheUnavailable, *UNAVAILABLE_ERRORS) as exc:
            raise ImportInterrupted(self.report) from exc
        try:
            for number, raw, length in read_lines(source, limit):
                if raw is None:
                    self.report.lines += 1
                    self.too_long(number, length)
                else:
                    self.line(number, raw)
                if self.stop:
                    break
            if not self.stop:
                self.flush()
            self.collect()
        finally:
            if self.pipe is not None:
                self.pipe.close()
            self.report.refused = sorted((-negated, key, reason) for negated, key, reason in self._refused)
        return self.report


def import_lines(cache: BrandCache, source: Any, *, policy: str = OVERWRITE, dry_run: bool = False,
                 listed: int = REFUSALS_LISTED) -> ImportReport:
    importer = _Import(cache, policy=policy, dry_run=dry_run, listed=listed)
    try:
        return importer.run(source)
    except ImportInterrupted:
        raise
    except Exception as exc:
        # Whatever went wrong, the caller can still audit what had been written by then.
        exc.import_report = importer.report
        raise


# ---------------------------------------------------------------------------- export


def export_lines(cache: BrandCache, *, batch: int = 1000) -> Iterator[str]:
    """One line per live key, in key order, built from the stored JSON text as it is (it is
    already compact JSON; parsing and re-encoding each value was most of the old cost). Keys
    hold no character JSON would escape."""
    after = None
    while True:
        page = cache.list_keys(after=after, limit=batch)
        for item in page.items:
            yield f'{{"key":"{item.key}","value":{item.value_json},"ttl":{item.ttl_seconds!r}}}'
        if page.next_cursor is None:
            return
        after = page.next_cursor
