"""The Lua scripts behind every mutating operation (and the admin reads that must see a consistent
index). Each runs atomically inside Redis in one round trip (EVALSHA, reloaded on NOSCRIPT by
``SCRIPTS.run``), which is what makes the key limit exact however many processes write at once.

Conventions shared by the scripts:

* KEYS = [value key, expiry index, name index, stats] (``BrandKeys.script_keys``); scripts about
  the whole brand get the stats key in the value key's place. Every declared key carries the
  brand's hash tag, so on Redis Cluster each call runs on the one node serving the brand's slot.
  Scripts that page through values build value key names from the brand's value prefix, which
  carries the same hash tag, so they stay within the brand's slot.
* ``now`` comes from Redis' own TIME, in ms: the app servers' clocks never matter.
* A key is live while its expiry score is greater than ``now``. Expired index entries are pruned
  lazily, at most PRUNE_BATCH per call so that no write ever stalls Redis.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from redis import Redis
from redis.commands.core import Script
from redis.exceptions import NoScriptError, ResponseError, TryAgainError

from brands.cache.accounting import ACCOUNTING as _ACCOUNTING
from brands.cache.connection import UNAVAILABLE_ERRORS

PRUNE_BATCH = 500

# The name index (KEYS' third key, ``BrandKeys.name_index``): every key's name, in byte order,
# for paging, prefixes and counts. Scripts reach it only through these helpers:
#   names_add(nm, name)              add one name
#   names_remove(nm, names)          remove a list of names
#   names_range(nm, min, max, n)     up to n names in a ZRANGEBYLEX range ('[a', '(a', '-', '+')
#   names_count(nm, min, max)        how many names in such a range
#
# It is chunked (issue 14, item 7): one big sorted set of names is a skiplist costing ~105 bytes
# a name; sorted sets of at most zset-max-listpack-entries (128 by default) names are compact
# listpacks, ~20 bytes a name. So the names live in chunks of at most NAMES_CHUNK names, and `nm`
# itself is the directory: a sorted set (all scores 0) of each chunk's lower bound. The chunk of
# bound b is the key nm .. ':' .. b (the brand's hash tag, as nm's); the first chunk's bound is
# '', and a name lives in the chunk with the greatest bound <= the name. The hash nm .. '#'
# holds each chunk's size (no bound contains '#', so it is no chunk's key). A chunk that
# overflows splits (names appended at its end start a chunk of their own, so chunks written in
# order stay full); a chunk that empties is dropped (the first one hands its '' bound to the
# next). Counts stay exact (the sizes of the chunks a range spans, the two ends counted by range)
# and paging ordered (chunk after chunk through the directory), each call still one script.
#
# Chunks and Redis Cluster: the chunk keys are built inside the scripts (like the value keys the
# paging scripts read), not declared, and all carry the brand's hash tag. While the brand's slot
# migrates, a chunk may already sit on the other node; touching it then fails the script at that
# point ("non local key", "cache unavailable" to the caller), and Redis keeps what the script
# wrote before. So scripts remove names from the chunks *before* their other writes: failing
# there writes nothing, and a name left in the expiry index without its chunk entry is taken out
# by the next prune (names_remove passes over names it does not find). Names are only added by
# scripts creating a key, whose value key does not exist yet: Redis answers those with TRYAGAIN
# for the whole migration, before they run.
NAMES_CHUNK = 120

_NAMES = r"""
local NAMES_CHUNK = @NAMES_CHUNK@

-- The bound of the chunk that holds (or would hold) `name`; nil when the index is empty.
local function names_chunk(nm, name)
  return redis.call('ZREVRANGEBYLEX', nm, '[' .. name, '-', 'LIMIT', 0, 1)[1]
end

local function names_add(nm, name)
  local bound = names_chunk(nm, name)
  if not bound then
    bound = ''
    redis.call('ZADD', nm, 0, bound)
  end
  local chunk, sizes = nm .. ':' .. bound, nm .. '#'
  if redis.call('ZADD', chunk, 0, name) == 0 then return end
  local size = redis.call('HINCRBY', sizes, bound, 1)
  if size <= NAMES_CHUNK then return end
  local from = math.floor(size / 2)
  if redis.call('ZRANGE', chunk, -1, -1)[1] == name then from = size - 1 end
  local moved = redis.call('ZRANGE', chunk, from, -1)
  local args = {}
  for i, moved_name in ipairs(moved) do
    args[2 * i - 1] = 0
    args[2 * i] = moved_name
  end
  redis.call('ZADD', nm .. ':' .. moved[1], unpack(args))
  redis.call('ZREMRANGEBYRANK', chunk, from, -1)
  redis.call('ZADD', nm, 0, moved[1])
  redis.call('HSET', sizes, bound, from, moved[1], #moved)
end

local function names_remove(nm, names)
  local sizes = nm .. '#'
  for _, name in ipairs(names) do
    local bound = names_chunk(nm, name)
    local chunk = bound and (nm .. ':' .. bound)
    if chunk and redis.call('ZREM', chunk, name) == 1
        and redis.call('HINCRBY', sizes, bound, -1) == 0 then
      redis.call('ZREM', nm, bound)
      redis.call('HDEL', sizes, bound)
      local next_bound = bound == '' and redis.call('ZRANGE', nm, 0, 0)[1]
      if next_bound then
        redis.call('RENAME', nm .. ':' .. next_bound, chunk)
        redis.call('ZREM', nm, next_bound)
        redis.call('ZADD', nm, 0, '')
        redis.call('HSET', sizes, '', redis.call('HGET', sizes, next_bound))
        redis.call('HDEL', sizes, next_bound)
      end
    end
  end
end

-- The bound of the first chunk a range starting at `min` can touch.
local function names_first_chunk(nm, min)
  if min == '-' then return redis.call('ZRANGE', nm, 0, 0)[1] end
  return names_chunk(nm, string.sub(min, 2))
end

-- The bound of the chunk after `bound`, if it can hold names up to `max`.
local function names_next_chunk(nm, bound, max)
  return redis.call('ZRANGEBYLEX', nm, '(' .. bound, max, 'LIMIT', 0, 1)[1]
end

local function names_range(nm, min, max, limit)
  local out = {}
  local bound = names_first_chunk(nm, min)
  while bound and #out < limit do
    local names = redis.call('ZRANGEBYLEX', nm .. ':' .. bound, min, max, 'LIMIT', 0, limit - #out)
    for _, name in ipairs(names) do out[#out + 1] = name end
    if #out >= limit then break end
    bound = names_next_chunk(nm, bound, max)
  end
  return out
end

-- The first chunk and the last are counted by range; every chunk between them lies wholly inside
-- it (its names sit between two bounds that are in range) and counts by its size: a count over
-- a whole 50,000-name brand is one directory read and one HMGET per 1,000 chunks.
local function names_count(nm, min, max)
  local first = names_first_chunk(nm, min)
  if not first then return 0 end
  local rest = redis.call('ZRANGEBYLEX', nm, '(' .. first, max)
  if #rest == 0 then return redis.call('ZLEXCOUNT', nm .. ':' .. first, min, max) end
  local total = redis.call('ZLEXCOUNT', nm .. ':' .. first, min, '+')
  for from = 1, #rest - 1, 1000 do
    local sizes = redis.call('HMGET', nm .. '#', unpack(rest, from, math.min(from + 999, #rest - 1)))
    for _, size in ipairs(sizes) do total = total + tonumber(size) end
  end
  return total + redis.call('ZLEXCOUNT', nm .. ':' .. rest[#rest], '-', max)
end
""".replace("@NAMES_CHUNK@", str(NAMES_CHUNK))

# Every script with the prelude also gets the analysis accounting (brands/cache/accounting.py):
# a key's size rides in its expiry index score's fraction, so readers of a score take its floor.
_PRELUDE = _ACCOUNTING + _NAMES + r"""
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Remove up to `limit` expired names from both indexes; returns how many were removed.
-- Expired: the score's floor (the expiry in ms) is not after now, i.e. score < now + 1.
local function prune(ix, nm, now, limit)
  local scored = redis.call('ZRANGEBYSCORE', ix, '-inf', '(' .. (now + 1), 'WITHSCORES', 'LIMIT', 0, limit)
  local expired = {}
  for i = 1, #scored, 2 do
    expired[#expired + 1] = scored[i]
    account_gone(acct(ix), scored[i], tonumber(scored[i + 1]))
  end
  if #expired > 0 then
    names_remove(nm, expired)  -- first: see "Chunks and Redis Cluster" above
    redis.call('ZREM', ix, unpack(expired))
  end
  return #expired
end

local function live_count(ix, now)
  return redis.call('ZCOUNT', ix, now + 1, '+inf')
end
"""

# ---------------------------------------------------------------------------- versioned writes
# Dashboard only (docs/contract.md#dashboard-use). Every edit, delete and increment made from the
# dashboard carries the version of the key the user saw: "<expiry ms>:<SHA-1 of the JSON text>",
# the expiry being the key's score in the expiry index (Redis' clock; 0 when it has none). The
# write scripts check it first and refuse, atomically, when the key changed (-3) or is gone,
# deleted or expired (-4). The six contract operations pass no version and skip the check.
VERSION_CHANGED, VERSION_GONE = -3, -4

_VERSION_CHECK = r"""
local function expiry_of(ix, name)
  return math.floor(tonumber(redis.call('ZSCORE', ix, name) or 0))  -- the floor: see _PRELUDE
end

-- false when the key is as the version says, else -3 (changed) or -4 (gone).
local function version_refused(vkey, ix, name, expected, now)
  local current = redis.call('GET', vkey)
  if not current then return -4 end
  local score = expiry_of(ix, name)
  if score > 0 and score <= now then return -4 end
  local expiry, digest = string.match(expected, '^(%d+):(%x+)$')
  if tonumber(expiry) ~= score or digest ~= redis.sha1hex(current) then return -3 end
  return false
end

-- The time a key has left, from its expiry score (or Redis' own TTL when it has no score).
local function kept_ttl(vkey, ix, name, now)
  local score = expiry_of(ix, name)
  if score > now then return score - now end
  return math.max(redis.call('PTTL', vkey), 1)
end
"""

# set / setIfAbsent.
# ARGV: key name, JSON text, ttl ms, max keys, only-if-absent ("1"/"0"), prune batch
#       [, version (dashboard only, see _VERSION_CHECK); ttl ms may then be "" to keep the expiry]
# Returns 1 written, 0 not written because it exists (setIfAbsent), -1 refused by the key limit;
# with a version: {1, new expiry ms} written, -3 changed, -4 gone.
SET = _PRELUDE + _VERSION_CHECK + r"""
local vkey, ix, nm, st = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local name, ttl = ARGV[1], tonumber(ARGV[3])
local now = now_ms()
-- [versioned write] ----------------------------------------------------------------------------
local version = ARGV[7]
if version then
  local refused = version_refused(vkey, ix, name, version, now)
  if refused then return refused end
  if ARGV[3] == '' then ttl = kept_ttl(vkey, ix, name, now) end
end
-- ---------------------------------------------------------------------------- [versioned write]
if redis.call('EXISTS', vkey) == 1 then
  if ARGV[5] == '1' then return 0 end
else
  prune(ix, nm, now, tonumber(ARGV[6]))
  if live_count(ix, now) >= tonumber(ARGV[4]) then
    redis.call('HINCRBY', st, 'key_limit', 1)
    return -1
  end
  names_add(nm, name)
end
redis.call('SET', vkey, ARGV[2], 'PX', ttl)
account_set(ix, name, now + ttl, #ARGV[2])
if version then return {1, now + ttl} end  -- [versioned write]
return 1
"""

# del. ARGV: key name [, version (dashboard only)]. Frees the key's slot at once.
# Returns 1; with a version -3 changed, -4 gone (nothing deleted).
DELETE = _PRELUDE + _VERSION_CHECK + r"""
-- [versioned write] ----------------------------------------------------------------------------
if ARGV[2] then
  local refused = version_refused(KEYS[1], KEYS[2], ARGV[1], ARGV[2], now_ms())
  if refused then return refused end
end
-- ---------------------------------------------------------------------------- [versioned write]
names_remove(KEYS[3], {ARGV[1]})  -- first: see "Chunks and Redis Cluster" in the prelude
redis.call('DEL', KEYS[1])
account_del(KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
"""

# increment.
# ARGV: key name, amount (decimal text), ttl ms or "", default ttl ms, max keys, max value bytes,
#       prune batch [, version (dashboard only)]
# Returns {1, stored text} | {-1} key limit | {-2, size} too large; errors NOTNUM / NOTFINITE.
# With a version: {1, stored text, expiry ms} | {-3} changed | {-4} gone.
INCREMENT = _PRELUDE + _VERSION_CHECK + r"""
local vkey, ix, nm, st = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local name, ttl_arg = ARGV[1], ARGV[3]

-- The stored text must be a JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
-- (Lua's tonumber alone would also take "0x10", " 5" or "inf").
local function is_json_number(s)
  local i = 1
  if s:sub(i, i) == '-' then i = i + 1 end
  local c = s:sub(i, i)
  if c == '0' then
    i = i + 1
  elseif c:match('^[1-9]$') then
    local _, e = s:find('^%d+', i); i = e + 1
  else
    return false
  end
  if s:sub(i, i) == '.' then
    local _, e = s:find('^%d+', i + 1)
    if not e then return false end
    i = e + 1
  end
  c = s:sub(i, i)
  if c == 'e' or c == 'E' then
    i = i + 1
    c = s:sub(i, i)
    if c == '+' or c == '-' then i = i + 1 end
    local _, e = s:find('^%d+', i)
    if not e then return false end
    i = e + 1
  end
  return i == #s + 1
end

-- The number as JavaScript writes it (Number.prototype.toString, which JSON.stringify uses): the
-- fewest significant digits that read back to the same double, laid out by JavaScript's rules:
-- plain up to 21 integer digits, "0.000001" down to 1e-6, else 1.5e+21 / 1e-7.
-- %.<p-1>e gives the p-digit decimal nearest to x; for an exact tie (2^-24 is
-- 5.9604644775390625e-8) that one may not read back while its neighbour does
-- (5.960464477539063e-8), so both neighbours are tried before more digits.
local function step(digits, delta)
  local t = {}
  for i = 1, #digits do t[i] = digits:byte(i) - 48 end
  local i = #t
  while i >= 1 do
    local v = t[i] + delta
    if v >= 0 and v <= 9 then t[i] = v; break end
    t[i] = (v < 0) and 9 or 0
    i = i - 1
  end
  if i == 0 then table.insert(t, 1, 1) end
  for j = 1, #t do t[j] = string.char(48 + t[j]) end
  return (table.concat(t):gsub('^0+', ''))
end

local function layout(sign, digits, n)
  local k = #digits
  if k <= n and n <= 21 then
    return sign .. digits .. string.rep('0', n - k)
  elseif 0 < n and n <= 21 then
    return sign .. digits:sub(1, n) .. '.' .. digits:sub(n + 1)
  elseif -6 < n and n <= 0 then
    return sign .. '0.' .. string.rep('0', -n) .. digits
  end
  local e = n - 1
  local mantissa = (k == 1) and digits or (digits:sub(1, 1) .. '.' .. digits:sub(2))
  return sign .. mantissa .. 'e' .. (e >= 0 and '+' or '-') .. math.abs(e)
end

local function format_number(x)
  if x == 0 then return '0' end  -- also -0, which JSON.stringify writes as 0
  local sign, ax = '', x
  if x < 0 then sign, ax = '-', -x end
  for p = 1, 17 do
    local first, rest, exp = string.format('%.' .. (p - 1) .. 'e', ax):match('^(%d)%.?(%d*)e([-+]%d+)$')
    local nearest = first .. rest
    local scale = tonumber(exp) - (p - 1)  -- the value is digits * 10^scale
    for _, digits in ipairs({nearest, step(nearest, 1), step(nearest, -1)}) do
      if digits ~= '' and tonumber(digits .. 'e' .. scale) == ax then
        return layout(sign, (digits:gsub('0+$', '')), #digits + scale)
      end
    end
  end
  return string.format('%.17g', x)
end

local now = now_ms()
-- [versioned write] ----------------------------------------------------------------------------
local version = ARGV[8]
if version then
  local refused = version_refused(vkey, ix, name, version, now)
  if refused then return {refused} end
end
-- ---------------------------------------------------------------------------- [versioned write]
local current = redis.call('GET', vkey)
local result
if current then
  if not is_json_number(current) then
    return redis.error_reply('NOTNUM')
  end
  result = tonumber(current) + tonumber(ARGV[2])
else
  result = tonumber(ARGV[2])
end
if result ~= result or result == math.huge or result == -math.huge then
  return redis.error_reply('NOTFINITE')
end
local text = format_number(result)
if #text > tonumber(ARGV[6]) then
  redis.call('HINCRBY', st, 'value_size', 1)
  return {-2, #text}
end
if current then
  if ttl_arg == '' then
    redis.call('SET', vkey, text, 'KEEPTTL')
    account_resize(ix, name, vkey, #text, now)
  else
    redis.call('SET', vkey, text, 'PX', ttl_arg)
    account_set(ix, name, now + tonumber(ttl_arg), #text)
  end
else
  prune(ix, nm, now, tonumber(ARGV[7]))
  if live_count(ix, now) >= tonumber(ARGV[5]) then
    redis.call('HINCRBY', st, 'key_limit', 1)
    return {-1}
  end
  local ttl = ttl_arg ~= '' and tonumber(ttl_arg) or tonumber(ARGV[4])
  redis.call('SET', vkey, text, 'PX', ttl)
  account_set(ix, name, now + ttl, #text)
  names_add(nm, name)
end
if version then return {1, text, expiry_of(ix, name)} end  -- [versioned write]
return {1, text}
"""

# Count refused writes that never reached a write script (value too large, seen in Python).
# ARGV: counter field.
COUNT_REFUSAL = r"""
return redis.call('HINCRBY', KEYS[4], ARGV[1], 1)
"""

# Live key count. Returns the count.
LIVE_COUNT = _PRELUDE + r"""
return live_count(KEYS[2], now_ms())
"""

# Prune a batch of expired index entries. ARGV: batch size. Returns how many were removed.
PRUNE = _PRELUDE + r"""
return prune(KEYS[2], KEYS[3], now_ms(), tonumber(ARGV[1]))
"""

# A page of live keys in name order.
# ARGV: value prefix, lex start ("[abc" or "(abc"), lex stop ("+" or "(abc\255"), page size.
# Returns a flat list: name, value, pttl, expiry score, ... for at most page size + 1 keys (the
# extra one tells the caller there is a next page). Names whose value has expired are skipped.
PAGE = _NAMES + r"""
local ix, nm, base = KEYS[2], KEYS[3], ARGV[1]
local start, stop, want = ARGV[2], ARGV[3], tonumber(ARGV[4]) + 1
local out, found, rounds = {}, 0, 0
while found < want and rounds < 50 do
  rounds = rounds + 1
  local names = names_range(nm, start, stop, want * 2)
  if #names == 0 then break end
  for _, name in ipairs(names) do
    local value = redis.call('GET', base .. name)
    if value then
      out[#out + 1] = name
      out[#out + 1] = value
      out[#out + 1] = redis.call('PTTL', base .. name)
      out[#out + 1] = redis.call('ZSCORE', ix, name) or '0'
      found = found + 1
      if found >= want then break end
    end
  end
  start = '(' .. names[#names]
end
return out
"""

# Direct children of a namespace prefix, skipping over each child's keys with one lookup.
# ARGV: prefix ("" or ending with ":"), max children.
# Returns a flat list: label-or-name, count, is_leaf (1/0), ...
TREE = _NAMES + r"""
local nm, prefix, limit = KEYS[3], ARGV[1], tonumber(ARGV[2])
local plen = #prefix
local start = '[' .. prefix
local stop = (prefix == '') and '+' or ('(' .. prefix .. '\255')
local out, n = {}, 0
while n < limit do
  local first = names_range(nm, start, stop, 1)[1]
  if not first then break end
  local rest = first:sub(plen + 1)
  local colon = rest:find(':', 1, true)
  if colon then
    local child = prefix .. rest:sub(1, colon)                  -- ends with ':'
    local after = prefix .. rest:sub(1, colon - 1) .. ';'       -- ';' sorts right after ':'
    out[#out + 1] = child
    out[#out + 1] = names_count(nm, '[' .. child, '(' .. after)
    out[#out + 1] = 0
    start = '[' .. after
  else
    out[#out + 1] = first
    out[#out + 1] = 1
    out[#out + 1] = 1
    start = '(' .. first
  end
  n = n + 1
end
return out
"""

# Delete up to a batch of keys under a prefix. ARGV: value prefix, lex start, lex stop, batch.
# Returns {names removed from the index, live values deleted}.
DELETE_PREFIX = _ACCOUNTING + _NAMES + r"""
local ix, nm, base = KEYS[2], KEYS[3], ARGV[1]
local names = names_range(nm, ARGV[2], ARGV[3], tonumber(ARGV[4]))
local deleted = 0
for _, name in ipairs(names) do
  deleted = deleted + redis.call('DEL', base .. name)
end
if #names > 0 then
  account_del_many(ix, names)
  redis.call('ZREM', ix, unpack(names))
  names_remove(nm, names)
end
return {#names, deleted}
"""

# How many names a name range holds (expired ones included until pruned).
# ARGV: lex start, lex stop. Returns the count.
COUNT_NAMES = _NAMES + r"""
return names_count(KEYS[3], ARGV[1], ARGV[2])
"""

# Move a batch of names from a brand's name index as it was before the chunks (one sorted set,
# ``BrandKeys.legacy_name_index``) into the chunked one. KEYS: legacy name index, expiry index,
# name index, stats. ARGV: batch. Names no longer in the expiry index (deleted keys) are dropped.
# Returns {names taken from the legacy index, names left there}.
UPGRADE_NAMES = _NAMES + r"""
local old, ix, nm = KEYS[1], KEYS[2], KEYS[3]
local names = redis.call('ZRANGE', old, 0, tonumber(ARGV[1]) - 1)
for _, name in ipairs(names) do
  if redis.call('ZSCORE', ix, name) then names_add(nm, name) end
end
if #names > 0 then redis.call('ZREM', old, unpack(names)) end
return {#names, redis.call('ZCARD', old)}
"""

# Sum of the stored bytes of up to a batch of keys after a cursor.
# ARGV: value prefix, lex start, batch. Returns {bytes, last name or ""}.
STORED_BYTES = _NAMES + r"""
local nm, base = KEYS[3], ARGV[1]
local names = names_range(nm, ARGV[2], '+', tonumber(ARGV[3]))
local total = 0
for _, name in ipairs(names) do
  total = total + redis.call('STRLEN', base .. name)
end
return {total, names[#names] or ''}
"""


# ================================================================================ safe editing
# Dashboard-only scripts (issue 13): reading a key with its version, restoring a key as an audit
# entry saw it, bulk deletes that keep what they removed (undo), bulk TTL, copy and rename. Every
# key they touch is named in KEYS (values included), all under the brand's hash tag.
# Refusal codes shared with the service: -1 key limit, -3 changed, -4 gone, -5 exists,
# -6 expired.

# A key with its version. KEYS: value key, expiry index. ARGV: name.
# Returns {value, expiry score ("0" without one), pttl} or nil. Reads only.
READ_KEY = r"""
local value = redis.call('GET', KEYS[1])
if not value then return false end
return {value, redis.call('ZSCORE', KEYS[2], ARGV[1]) or '0', redis.call('PTTL', KEYS[1])}
"""

# Put a key back as an audit entry saw it. KEYS: value key, expiry index, name index, stats.
# ARGV: name, JSON text, expiry ms (absolute, Redis clock), expected ("" = the key must be absent,
# else the version it must still have), max keys, prune batch, max ttl ms (a later expiry is cut
# to it: the brand's limits now win over the old expiry).
# Returns {1, expiry} restored | -1 key limit | -3 changed | -4 gone | -5 exists | -6 expired.
RESTORE = _PRELUDE + _VERSION_CHECK + r"""
local vkey, ix, nm, st = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local name, expected, expiry = ARGV[1], ARGV[4], tonumber(ARGV[3])
local now = now_ms()
local exists = redis.call('EXISTS', vkey) == 1
if expected == '' then
  if exists then return -5 end
else
  local refused = version_refused(vkey, ix, name, expected, now)
  if refused then return refused end
end
if expiry <= now then return -6 end
expiry = math.min(expiry, now + tonumber(ARGV[7]))
if not exists then
  prune(ix, nm, now, tonumber(ARGV[6]))
  if live_count(ix, now) >= tonumber(ARGV[5]) then
    redis.call('HINCRBY', st, 'key_limit', 1)
    return -1
  end
  names_add(nm, name)
end
redis.call('SET', vkey, ARGV[2], 'PX', expiry - now)
account_set(ix, name, expiry, #ARGV[2])
return {1, expiry}
"""

# Live names in a name range, for dry runs and bulk operations. Reads only (expired index
# entries are skipped, not pruned). KEYS: expiry index, name index.
# ARGV: lex start, lex stop, batch. Returns {last name scanned or "", {live names}}.
LIVE_NAMES = _PRELUDE + r"""
local names = names_range(KEYS[2], ARGV[1], ARGV[2], tonumber(ARGV[3]))
local now = now_ms()
local out = {}
for _, name in ipairs(names) do
  local score = redis.call('ZSCORE', KEYS[1], name)
  if score and math.floor(tonumber(score)) > now then out[#out + 1] = name end
end
return {names[#names] or '', out}
"""

# Values of named keys. Reads only. KEYS: expiry index, value keys... ARGV: names...
# Returns a flat list: name, value, pttl, expiry score, ... for the keys that exist.
READ_MANY = r"""
local out = {}
for i = 1, #ARGV do
  local vkey = KEYS[i + 1]
  local value = redis.call('GET', vkey)
  if value then
    out[#out + 1] = ARGV[i]
    out[#out + 1] = value
    out[#out + 1] = redis.call('PTTL', vkey)
    out[#out + 1] = redis.call('ZSCORE', KEYS[1], ARGV[i]) or '0'
  end
end
return out
"""

# Bulk delete that keeps what it deletes. KEYS: expiry index, name index, bin, bin index,
# value keys... ARGV: token, window ms, names... Each live value goes into the bin as
# "<expiry ms>|<value>"; the bin expires at the end of the window that starts with its first value.
# Returns the number of live values deleted (and kept).
BIN_DELETE = _PRELUDE + r"""
local ix, nm, bin, bins = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local now = now_ms()
local names, kept = {}, 0
names_remove(nm, {unpack(ARGV, 3)})  -- first: see "Chunks and Redis Cluster" in the prelude
for i = 3, #ARGV do
  local name, vkey = ARGV[i], KEYS[i + 2]
  names[#names + 1] = name
  local value = redis.call('GET', vkey)
  if value then
    local expiry = redis.call('ZSCORE', ix, name)
    expiry = expiry and math.floor(tonumber(expiry))  -- the floor: the size rides in the fraction
    if not expiry or expiry <= now then
      expiry = now + math.max(redis.call('PTTL', vkey), 1)
    end
    redis.call('HSET', bin, name, string.format('%d', expiry) .. '|' .. value)
    redis.call('DEL', vkey)
    kept = kept + 1
  end
end
if #names > 0 then
  account_del_many(ix, names)
  redis.call('ZREM', ix, unpack(names))
end
if kept > 0 and redis.call('PTTL', bin) == -1 then
  local window = tonumber(ARGV[2])
  redis.call('PEXPIRE', bin, window)
  redis.call('ZREMRANGEBYSCORE', bins, '-inf', now)
  redis.call('ZADD', bins, now + window, ARGV[1])
end
return kept
"""

# Put back what a bulk delete kept. KEYS: expiry index, name index, stats, bin, value keys...
# ARGV: max keys, prune batch, max value bytes, max ttl ms, names... Returns one code per name:
# 1 restored, 0 not in the bin (restored already), -1 key limit, -2 the value is above the size
# limit now, -5 the key exists again, -6 it would have expired by now. Restored, expired and
# too large names leave the bin; the others stay until the window ends.
BIN_RESTORE = _PRELUDE + r"""
local ix, nm, st, bin = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local now = now_ms()
local max_keys, max_bytes, max_ttl = tonumber(ARGV[1]), tonumber(ARGV[3]), tonumber(ARGV[4])
prune(ix, nm, now, tonumber(ARGV[2]))
local live = live_count(ix, now)
local out = {}
for i = 5, #ARGV do
  local name, vkey = ARGV[i], KEYS[i]
  local entry = redis.call('HGET', bin, name)
  local code = 0
  if entry then
    local bar = string.find(entry, '|', 1, true)
    local expiry = tonumber(string.sub(entry, 1, bar - 1))
    if redis.call('EXISTS', vkey) == 1 then
      code = -5
    elseif expiry <= now then
      redis.call('HDEL', bin, name)
      code = -6
    elseif #entry - bar > max_bytes then
      redis.call('HDEL', bin, name)
      redis.call('HINCRBY', st, 'value_size', 1)
      code = -2
    elseif live >= max_keys then
      redis.call('HINCRBY', st, 'key_limit', 1)
      code = -1
    else
      expiry = math.min(expiry, now + max_ttl)
      redis.call('SET', vkey, string.sub(entry, bar + 1), 'PX', expiry - now)
      account_set(ix, name, expiry, #entry - bar)
      names_add(nm, name)
      redis.call('HDEL', bin, name)
      live = live + 1
      code = 1
    end
  end
  out[#out + 1] = code
end
return out
"""

# Set the TTL of named keys. KEYS: expiry index, value keys... ARGV: ttl ms, names...
# Returns how many existed (and got the TTL).
BULK_TTL = _PRELUDE + r"""
local now = now_ms()
local ttl = tonumber(ARGV[1])
local changed = 0
for i = 2, #ARGV do
  if redis.call('PEXPIRE', KEYS[i], ttl) == 1 then
    account_set(KEYS[1], ARGV[i], now + ttl, redis.call('STRLEN', KEYS[i]))
    changed = changed + 1
  end
end
return changed
"""

# Copy or rename keys, each keeping its value and expiry (an expiry beyond max ttl is cut to it).
# KEYS: expiry index, name index, stats, then source and destination value keys in pairs.
# ARGV: move ("1"/"0"), overwrite ("1"/"0"), max keys, prune batch, max value bytes, max ttl ms,
# then source and destination names in pairs.
# Returns one code per pair: 1 done, -1 key limit, -2 the value is above the size limit, -4 the
# source is gone, -5 the destination exists (and overwrite is off).
COPY_KEYS = _PRELUDE + r"""
local ix, nm, st = KEYS[1], KEYS[2], KEYS[3]
local move, overwrite, max_keys = ARGV[1] == '1', ARGV[2] == '1', tonumber(ARGV[3])
local max_bytes, max_ttl = tonumber(ARGV[5]), tonumber(ARGV[6])
local now = now_ms()
prune(ix, nm, now, tonumber(ARGV[4]))
local live = live_count(ix, now)
local out = {}
for i = 0, (#ARGV - 6) / 2 - 1 do
  local src, dst = KEYS[4 + 2 * i], KEYS[5 + 2 * i]
  local sname, dname = ARGV[7 + 2 * i], ARGV[8 + 2 * i]
  local value = redis.call('GET', src)
  local code
  if not value then
    code = -4
  else
    local dst_exists = redis.call('EXISTS', dst) == 1
    if sname == dname or (dst_exists and not overwrite) then
      code = -5
    elseif #value > max_bytes then
      redis.call('HINCRBY', st, 'value_size', 1)
      code = -2
    elseif not dst_exists and not move and live >= max_keys then
      redis.call('HINCRBY', st, 'key_limit', 1)
      code = -1
    else
      local expiry = math.floor(tonumber(redis.call('ZSCORE', ix, sname) or 0))
      if expiry <= now then expiry = now + math.max(redis.call('PTTL', src), 1) end
      expiry = math.min(expiry, now + max_ttl)
      redis.call('SET', dst, value, 'PX', expiry - now)
      account_set(ix, dname, expiry, #value)
      names_add(nm, dname)
      if move then
        redis.call('DEL', src)
        account_del(ix, sname)
        redis.call('ZREM', ix, sname)
        names_remove(nm, {sname})
        if dst_exists then live = live - 1 end
      elseif not dst_exists then
        live = live + 1
      end
      code = 1
    end
  end
  out[#out + 1] = code
end
return out
"""

# Direct children of a namespace for the key browser's tree, with a fan-out of plain keys
# counted rather than listed. KEYS: name index. ARGV: prefix ("" or ending with ":"), max
# namespaces, leaves listed at most, max steps (each step reads up to 100 names, or jumps over
# one namespace). Returns {truncated (1/0), leaf count, {namespace, count, ...}, {leaf names}}; the
# leaf names are left out when there are more than the listing bound. Reads only.
TREE_GROUPED = _NAMES + r"""
local nm, prefix = KEYS[1], ARGV[1]
local max_ns, max_leaves, max_steps = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local plen = #prefix
local start = '[' .. prefix
local stop = (prefix == '') and '+' or ('(' .. prefix .. '\255')
local namespaces, leaves, leaf_count, steps, truncated = {}, {}, 0, 0, 0
-- Names read per step: one at first and after each jump (the next name usually opens another
-- namespace: reading 100 there moved 100 names into Lua to use one), doubling up to 100 while
-- plain keys follow. The key browser's root of five namespaces went from ~500 names read to 5.
local want = 1
while true do
  if steps >= max_steps or #namespaces / 2 >= max_ns then
    if names_range(nm, start, stop, 1)[1] then truncated = 1 end
    break
  end
  steps = steps + 1
  local batch = names_range(nm, start, stop, want)
  if #batch == 0 then break end
  want = math.min(want * 2, 100)
  for _, name in ipairs(batch) do
    local rest = name:sub(plen + 1)
    local colon = rest:find(':', 1, true)
    if colon then
      local child = prefix .. rest:sub(1, colon)                  -- ends with ':'
      local after = prefix .. rest:sub(1, colon - 1) .. ';'       -- ';' sorts right after ':'
      namespaces[#namespaces + 1] = child
      namespaces[#namespaces + 1] = names_count(nm, '[' .. child, '(' .. after)
      start = '[' .. after
      want = 1
      break
    end
    leaf_count = leaf_count + 1
    if #leaves <= max_leaves then leaves[#leaves + 1] = name end
    start = '(' .. name
  end
end
if leaf_count > max_leaves then leaves = {} end
return {truncated, leaf_count, namespaces, leaves}
"""

# ====================================================================== exact analysis
# Issue 12 (brands/cache/accounting.py, brands/cache/analysis.py). KEYS as the other brand
# scripts: stats placeholder, expiry index, name index, stats.

# Everything the usage page shows, read at once. Reads only.
# ARGV: how many biggest keys / namespaces, then the TTL histogram's bounds (ms from now, rising).
# Returns {flat analysis hash, index entries, live keys, {live keys expiring within each bound,
# then after the last}, {biggest name, size, ...}, {{namespace, keys, bytes}, ...} by keys, the
# same by bytes, namespace count}.
ANALYSIS_READ = _PRELUDE + r"""
local ix = KEYS[2]
local a = acct(ix)
local now = now_ms()
local top = tonumber(ARGV[1])
local live = live_count(ix, now)
local ttl, below = {}, now + 1
for i = 2, #ARGV do
  -- expiry <= now + bound, i.e. score < now + bound + 1
  local upto = now + tonumber(ARGV[i]) + 1
  ttl[#ttl + 1] = redis.call('ZCOUNT', ix, below, '(' .. upto)
  below = upto
end
ttl[#ttl + 1] = redis.call('ZCOUNT', ix, below, '+inf')
-- Namespaces by keys and by bytes, each row {namespace, keys, bytes}.
local function namespaces(by)
  local out = {}
  for _, ns in ipairs(redis.call('ZREVRANGE', by, 0, top - 1)) do
    out[#out + 1] = {ns, redis.call('ZSCORE', a.nk, ns) or '0', redis.call('ZSCORE', a.nb, ns) or '0'}
  end
  return out
end
return {redis.call('HGETALL', a.an), redis.call('ZCARD', ix), live, ttl,
        redis.call('ZREVRANGE', a.tk, 0, top - 1, 'WITHSCORES'),
        namespaces(a.nk), namespaces(a.nb), redis.call('ZCARD', a.nk)}
"""

# One bounded step of the biggest keys' rebuild (brands/cache/accounting.py). ARGV: batch.
# Returns 1 when no rebuild runs (any more), 0 when more steps are needed.
TOPK_STEP = _PRELUDE + r"""
local ix, nm, batch = KEYS[2], KEYS[3], tonumber(ARGV[1])
local a = acct(ix)
local cursor = redis.call('HGET', a.an, 'tr_cursor')
if not cursor then return 1 end
local names = names_range(nm, cursor == '' and '-' or ('(' .. cursor), '+', batch)
local walked = tonumber(redis.call('HGET', a.an, 'tr_keys') or 0)
for _, name in ipairs(names) do
  local score = redis.call('ZSCORE', ix, name)
  local size = score and score_size(a, name, tonumber(score))
  if size then
    walked = walked + 1
    top_put(a.tr, name, size, walked, true)
  end
end
if #names < batch then
  if redis.call('EXISTS', a.tr) == 1 then redis.call('RENAME', a.tr, a.tk) else redis.call('DEL', a.tk) end
  redis.call('HDEL', a.an, 'tr_cursor', 'tr_keys')
  return 1
end
redis.call('HSET', a.an, 'tr_cursor', names[#names], 'tr_keys', walked)
return 0
"""

# The upgrade of keys written before the accounting: gives each live one in a batch of names
# its size (its score had no fraction). ARGV: value prefix, lex start, batch.
# Returns {last name or "", keys upgraded}.
ANALYSIS_UPGRADE = _PRELUDE + r"""
local ix, nm, base = KEYS[2], KEYS[3], ARGV[1]
local names = names_range(nm, ARGV[2], '+', tonumber(ARGV[3]))
local now = now_ms()
local done = 0
for _, name in ipairs(names) do
  local score = tonumber(redis.call('ZSCORE', ix, name) or 0)
  local expiry = math.floor(score)
  if expiry > now and score == expiry then
    local size = redis.call('STRLEN', base .. name)
    if size > 0 then
      account_set(ix, name, expiry, size)
      done = done + 1
    end
  end
end
return {names[#names] or '', done}
"""

# Live keys and their bytes in a name range (prefix on demand). Reads only.
# ARGV: value prefix, lex start, lex stop, batch. Returns {last name or "", keys, bytes}.
PREFIX_FIGURES = _PRELUDE + r"""
local ix, nm, base = KEYS[2], KEYS[3], ARGV[1]
local a = acct(ix)
local names = names_range(nm, ARGV[2], ARGV[3], tonumber(ARGV[4]))
local now = now_ms()
local keys, bytes = 0, 0
for _, name in ipairs(names) do
  local score = redis.call('ZSCORE', ix, name)
  if score and math.floor(tonumber(score)) > now then
    keys = keys + 1
    bytes = bytes + (score_size(a, name, tonumber(score)) or redis.call('STRLEN', base .. name))
  end
end
return {names[#names] or '', keys, bytes}
"""

# Every script above, by the name the service runs it under (tests check each one's keys).
SCRIPT_NAMES = (
    "SET", "DELETE", "INCREMENT", "COUNT_REFUSAL", "LIVE_COUNT", "PRUNE", "PAGE", "TREE",
    "DELETE_PREFIX", "STORED_BYTES", "COUNT_NAMES", "UPGRADE_NAMES",
    # safe editing
    "READ_KEY", "RESTORE", "LIVE_NAMES", "READ_MANY", "BIN_DELETE", "BIN_RESTORE", "BULK_TTL",
    "COPY_KEYS", "TREE_GROUPED",
    # exact analysis (issue 12)
    "ANALYSIS_READ", "TOPK_STEP", "ANALYSIS_UPGRADE", "PREFIX_FIGURES",
)

# A script that is still unknown after this many loads is an error, not a cache miss.
_MAX_LOADS = 2

# Redis Cluster's answer when a script reads a key it did not declare (a value key the paging and
# bulk scripts build from the brand's value prefix) that has already been moved away while the
# brand's slot migrates. Like TRYAGAIN it is transient: the service reports "cache unavailable".
_MOVED_AWAY = "Script attempted to access a non local key"


def _transient(exc: ResponseError) -> ResponseError:
    """The error to raise for a script's error reply: TryAgainError (one of the service's
    "unavailable" errors) for a key moved away mid-migration, else the reply itself."""
    if not isinstance(exc, TryAgainError) and str(exc).startswith(_MOVED_AWAY):
        return TryAgainError(str(exc))
    return exc


class _Scripts:
    """Script objects, created once. A Script carries only its source and SHA; the client that
    runs it is passed on each call (so it follows django-redis' current connection)."""

    def __init__(self) -> None:
        self._scripts: dict[str, Script] = {}
        self._sources: dict[str, str] = {}

    def register(self, **sources: str) -> None:
        """Scripts defined in other modules of this package (script_slots.py), by name."""
        self._sources.update(sources)

    def get(self, name: str, client: Redis) -> Script:
        script = self._scripts.get(name)
        if script is None:
            source = self._sources.get(name) or globals()[name]
            script = self._scripts[name] = client.register_script(source)
        return script

    def load(self, name: str, client: Redis, key: str, *, everywhere: bool = False) -> str:
        """SCRIPT LOAD where ``key`` lives: the one server, or on Redis Cluster the primary that
        serves the key's slot (the one that answered NOSCRIPT: a replica promoted by a failover
        starts with an empty script cache). ``everywhere``: on every reachable primary, for a
        NOSCRIPT that loading on the key's node did not cure: mid-migration the slot map still
        names the source while ASK sends the call to the importing node. Returns the SHA."""
        script = self._scripts.get(name) or self.get(name, client)
        node_for = getattr(client, "get_node_from_key", None)  # only RedisCluster routes by key
        if node_for is None:
            script.sha = client.script_load(script.script)
        elif everywhere:
            for node in client.get_primaries():
                # A primary that is down cannot be the one that answered NOSCRIPT.
                with contextlib.suppress(*UNAVAILABLE_ERRORS):
                    script.sha = client.execute_command("SCRIPT LOAD", script.script, target_nodes=node)
        else:
            script.sha = client.execute_command("SCRIPT LOAD", script.script, target_nodes=node_for(key))
        return script.sha

    def run(self, name: str, client: Redis, keys: Sequence, args: Sequence) -> Any:
        """EVALSHA on ``client`` (one round trip); on NOSCRIPT (a restarted or different server)
        load the script and retry. This is what redis-py's Script.__call__ does, minus its
        per-call overhead (an import and a Protocol isinstance check): cache_bench measured
        ~7 µs per call, a seventh of a whole round trip on a local socket."""
        script = self._scripts.get(name) or self.get(name, client)
        for loads in range(_MAX_LOADS + 1):
            try:
                return client.evalsha(script.sha, len(keys), *keys, *args)
            except NoScriptError:
                if loads == _MAX_LOADS:
                    raise
                self.load(name, client, keys[0], everywhere=loads > 0)
            except ResponseError as exc:
                error = _transient(exc)
                if error is exc:
                    raise
                raise error from exc
        raise AssertionError("unreachable")

    def batch(self, client: Redis) -> ScriptBatch:
        return ScriptBatch(self, client)

    def run_many(self, client: Redis, name: str, calls: Iterable[tuple[Sequence, Sequence]]) -> list[Any]:
        """The same script for many (keys, args) pairs in one batch (see ScriptBatch)."""
        batch = self.batch(client)
        for keys, args in calls:
            batch.script(name, keys, args)
        return batch.execute()


@dataclass(frozen=True)
class _Call:
    script: str | None  # a script name, or None for a plain command
    args: tuple  # the command's arguments, or the script's KEYS followed by its ARGV
    key_count: int = 0


class ScriptBatch:
    """Script calls and plain commands sent as one pipeline: one round trip on a single server;
    on Redis Cluster the pipeline groups the calls by the node serving each call's slot and sends
    each node its group at once (one round trip per node). Each call's keys must share a slot.

    Scripts go out as raw EVALSHA commands: redis-py's pipelined ``evalsha`` is blocked on a
    cluster (redis-py #2914), and a Script object in a standalone pipeline costs an extra SCRIPT
    EXISTS round trip on every execute. A call answered NOSCRIPT gets its script loaded where
    its key lives and is sent again, with the other failed calls, in one more pipeline.
    """

    def __init__(self, scripts: _Scripts, client: Redis) -> None:
        self._scripts = scripts
        self._client = client
        self._calls: list[_Call] = []

    def script(self, name: str, keys: Sequence, args: Sequence = ()) -> None:
        self._scripts.get(name, self._client)
        self._calls.append(_Call(name, (*keys, *args), len(keys)))

    def command(self, *args: Any) -> None:
        self._calls.append(_Call(None, args))

    def execute(self) -> list:
        """The replies in call order. A reply that is an error is raised (the first one)."""
        results: list[Any] = [None] * len(self._calls)
        pending = list(range(len(self._calls)))
        for loads in range(_MAX_LOADS + 1):
            pipe = self._client.pipeline(transaction=False)
            for index in pending:
                call = self._calls[index]
                if call.script is None:
                    pipe.execute_command(*call.args)
                else:
                    sha = self._scripts.get(call.script, self._client).sha
                    pipe.execute_command("EVALSHA", sha, call.key_count, *call.args, **self._route(call))
            replies = pipe.execute(raise_on_error=False)
            missing = []
            for index, reply in zip(pending, replies, strict=True):
                if isinstance(reply, NoScriptError) and loads < _MAX_LOADS:
                    missing.append(index)
                elif isinstance(reply, ResponseError):
                    raise _transient(reply)
                elif isinstance(reply, Exception):
                    raise reply
                else:
                    results[index] = reply
            if not missing:
                return results
            loaded = set()
            for index in missing:
                call = self._calls[index]
                # One load per script and node: the first failed call's key stands for its node.
                target = (call.script, self._node_name(call.args[0]))
                if target not in loaded:
                    loaded.add(target)
                    self._scripts.load(call.script, self._client, call.args[0], everywhere=loads > 0)
            pending = missing
        raise AssertionError("unreachable")

    def _node_name(self, key: Any) -> str:
        node_for = getattr(self._client, "get_node_from_key", None)
        return "" if node_for is None else node_for(key).name

    def _route(self, call: _Call) -> dict:
        """On Redis Cluster, the node serving the script's first key. A cluster pipeline routes
        EVALSHA right by itself, but only after asking a node for the command's keys (COMMAND
        GETKEYS: one more round trip per script call); a MOVED reply is still followed."""
        node_for = getattr(self._client, "get_node_from_key", None)
        return {} if node_for is None else {"target_nodes": node_for(call.args[0])}


SCRIPTS = _Scripts()
