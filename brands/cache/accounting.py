"""Exact analysis maintained on write (issue 12): the Lua functions every write script calls
beside its expiry index update, and what Python needs to read their figures back.

Per brand, kept by the write scripts in the same atomic step as the write itself (never by
scanning): the stored bytes (UTF-8 bytes of every value's JSON text), a value-size histogram,
the top-level namespaces by keys and by bytes, and the biggest keys.

Where a key's size lives: in its expiry index score. The score is ``expiry_ms + size / 2048``:
the expiry (whole ms, Redis clock) is the score's floor, the size its fraction. A double holds
that exactly while the expiry is below 2^42 ms (the year 2109; 4096ths would run out in 2039), so
keys cost no memory at all for their accounting and pruning an expired name can subtract its size
although its value is gone. Sizes of 2047 bytes and more (only possible when staff raise
``max_value_bytes`` above the 512 default) put the fraction 2047/2048 in the score and their
exact size in the hash ``bg`` (name -> size): one more copy of the name for a value of at least
2 KiB, under 5 % of what the value itself costs.

Every reader of a score takes its floor: a key is live while ``floor(score) > now``, that is
``score >= now + 1`` (``ZCOUNT ix now+1 +inf``); versions ("<expiry ms>:<sha1>"), the bins'
"<expiry ms>|<value>" and TTL displays all use the floor.

A score with no fraction is a key written before the accounting existed (sizes are at least one
byte, so no accounted key has one): the accounting ignores it until it is written again or the
upgrade (``BrandCache.analysis_upgrade``, ``manage.py cache_analysis``) gives it its size.

The biggest keys: a sorted set ``tk`` (name -> size) of at most TOPK_CAP names with the invariant
"every accounted key outside it is no bigger than the smallest inside it", so its first ten are
exactly the ten biggest keys. A write keeps the invariant in O(log n); a delete only removes the
name. When deletes shrink it below TOPK_LOW names while the brand has more keys, a rebuild starts:
a second set ``tr`` is filled by bounded steps that walk the name index in byte order (``TOPK_STEP``,
run by the usage page), while every write to a name already walked keeps ``tr`` too; at the end
``tr`` replaces ``tk``. Meanwhile ``tk`` stays correct, only shorter.

Memory: per brand a few hundred bytes (the ``an`` hash, 64 names in ``tk``), plus two sorted set
entries per top-level namespace (``nk``, ``nb``), plus the ``bg`` entries above. Nothing per key.
"""

from __future__ import annotations

# The size fraction's unit: 2^11, exact for expiries below 2^42 ms.
SIZE_UNIT = 2048
BIG_SIZE = SIZE_UNIT - 1
TOPK_CAP = 64
TOPK_LOW = 10
# Value-size histogram: bucket i holds sizes up to SIZE_BOUNDS[i] (bytes), the last one the rest.
SIZE_BOUNDS = (16, 32, 64, 128, 256, 512, 1024, 4096, 16384, 65536, 1048576)

_CONSTANTS = f"""
-- ============================================== exact analysis (brands/cache/accounting.py)
local SIZE_UNIT, BIG_SIZE = {SIZE_UNIT}, {BIG_SIZE}
local TOPK_CAP, TOPK_LOW = {TOPK_CAP}, {TOPK_LOW}
local SIZE_BOUNDS = {{{", ".join(str(b) for b in SIZE_BOUNDS)}}}
"""

ACCOUNTING = _CONSTANTS + r"""
-- The analysis keys, derived from the expiry index name ("<prefix>:{<id>}:ix"): they carry the
-- brand's hash tag, so they sit in the brand's slot (BrandKeys lists them for Python).
local acct_cache = nil
local function acct(ix)
  if not acct_cache then
    local base = string.sub(ix, 1, -3)
    acct_cache = {ix = ix, an = base .. 'an', tk = base .. 'tk', tr = base .. 'tr',
                  nk = base .. 'nk', nb = base .. 'nb', bg = base .. 'bg'}
  end
  return acct_cache
end

local function size_bucket(size)
  for i, bound in ipairs(SIZE_BOUNDS) do
    if size <= bound then return i end
  end
  return #SIZE_BOUNDS + 1
end

-- The index score of a key expiring at `expiry` (whole ms) whose value is `size` bytes.
local function expiry_score(expiry, size)
  if size >= BIG_SIZE then return expiry + BIG_SIZE / SIZE_UNIT end
  return expiry + size / SIZE_UNIT
end

-- The accounted size of an index entry with this score, or nil (written before accounting).
local function score_size(a, name, score)
  local units = math.floor((score - math.floor(score)) * SIZE_UNIT + 0.5)
  if units == 0 then return nil end
  if units == BIG_SIZE then return tonumber(redis.call('HGET', a.bg, name)) end
  return units
end

-- Byte order, as ZRANGEBYLEX sorts (Lua's own '<' follows the server's locale).
local function bytes_le(x, y)
  for i = 1, math.min(#x, #y) do
    local p, q = string.byte(x, i), string.byte(y, i)
    if p ~= q then return p < q end
  end
  return #x <= #y
end

-- Totals, histogram and top-level namespace of one key, added (sign 1) or taken away (-1).
-- Returns the brand's accounted key count after it.
local function tally(a, name, size, sign)
  local keys = redis.call('HINCRBY', a.an, 'keys', sign)
  redis.call('HINCRBY', a.an, 'bytes', sign * size)
  redis.call('HINCRBY', a.an, 'h' .. size_bucket(size), sign)
  local ns = string.match(name, '^[^:]*:')
  if ns then
    if tonumber(redis.call('ZINCRBY', a.nk, sign, ns)) <= 0 then
      redis.call('ZREM', a.nk, ns)
      redis.call('ZREM', a.nb, ns)
    else
      redis.call('ZINCRBY', a.nb, sign * size, ns)
    end
  else
    redis.call('HINCRBY', a.an, 'plain_keys', sign)
    redis.call('HINCRBY', a.an, 'plain_bytes', sign * size)
  end
  return keys
end

-- A key that stays changed size from `old` to `size`: only the differences.
local function retally(a, name, old, size)
  redis.call('HINCRBY', a.an, 'bytes', size - old)
  local was, now = size_bucket(old), size_bucket(size)
  if was ~= now then
    redis.call('HINCRBY', a.an, 'h' .. was, -1)
    redis.call('HINCRBY', a.an, 'h' .. now, 1)
  end
  local ns = string.match(name, '^[^:]*:')
  if ns then
    redis.call('ZINCRBY', a.nb, size - old, ns)
  else
    redis.call('HINCRBY', a.an, 'plain_bytes', size - old)
  end
end

-- Keep "every key of the set's region outside it is no bigger than its smallest member" when
-- `name` gets `size`; `total` is how many accounted keys the region holds, `name` included;
-- `fresh`: the name is new to the region, so it cannot be in the set yet.
local function top_put(zs, name, size, total, fresh)
  local card = redis.call('ZCARD', zs)
  if card >= total then  -- it holds the whole region
    redis.call('ZADD', zs, size, name)
    return
  end
  local lowest = redis.call('ZRANGE', zs, 0, 0, 'WITHSCORES')[2]
  if lowest and size >= tonumber(lowest) then
    -- at least the smallest member (before this write): in, whether it was or not
    if redis.call('ZADD', zs, size, name) == 1 and card + 1 > TOPK_CAP then redis.call('ZPOPMIN', zs) end
  elseif card == total - 1 and (fresh or not redis.call('ZSCORE', zs, name)) then
    -- it holds every other key of the region: this one joins whatever its size
    redis.call('ZADD', zs, size, name)
    if card + 1 > TOPK_CAP then redis.call('ZPOPMIN', zs) end
  elseif not fresh then
    -- smaller than the smallest member while others are outside: it must not stay in
    redis.call('ZREM', zs, name)
  end
end

-- The rebuild's walked region: names up to the cursor (false when no rebuild runs).
local function in_rebuild(a, name)
  local cursor = redis.call('HGET', a.an, 'tr_cursor')
  return cursor and bytes_le(name, cursor)
end

-- An index entry leaves (deleted, pruned, moved): take its accounted size away.
local function account_gone(a, name, score)
  local size = score_size(a, name, score)
  if not size then return end
  if size >= BIG_SIZE then redis.call('HDEL', a.bg, name) end
  local keys = tally(a, name, size, -1)
  redis.call('ZREM', a.tk, name)
  if in_rebuild(a, name) then
    redis.call('ZREM', a.tr, name)
    redis.call('HINCRBY', a.an, 'tr_keys', -1)
  end
  local card = redis.call('ZCARD', a.tk)
  if card < TOPK_LOW and keys > card and not redis.call('HGET', a.an, 'tr_cursor') then
    redis.call('DEL', a.tr)
    redis.call('HSET', a.an, 'tr_cursor', '', 'tr_keys', 0)
  end
end

-- Called before `ZREM ix name`.
local function account_del(ix, name)
  local score = redis.call('ZSCORE', ix, name)
  if score then account_gone(acct(ix), name, tonumber(score)) end
end

local function account_del_many(ix, names)
  for _, name in ipairs(names) do account_del(ix, name) end
end

-- Replaces `ZADD ix expiry name`: the key now expires at `expiry` (whole ms) and holds `size`
-- bytes; whatever was accounted for it before is replaced.
local function account_set(ix, name, expiry, size)
  local a = acct(ix)
  local old_score = redis.call('ZSCORE', ix, name)
  local old = old_score and score_size(a, name, tonumber(old_score))
  redis.call('ZADD', ix, expiry_score(expiry, size), name)
  if old == size then return end  -- the same size (most overwrites): only the expiry moved
  if size >= BIG_SIZE then
    redis.call('HSET', a.bg, name, size)
  elseif old and old >= BIG_SIZE then
    redis.call('HDEL', a.bg, name)
  end
  local keys
  if old then
    retally(a, name, old, size)
    keys = tonumber(redis.call('HGET', a.an, 'keys'))
  else
    keys = tally(a, name, size, 1)
  end
  top_put(a.tk, name, size, keys, not old)
  if in_rebuild(a, name) then
    local walked = tonumber(redis.call('HGET', a.an, 'tr_keys') or 0)
    if not old then walked = redis.call('HINCRBY', a.an, 'tr_keys', 1) end
    top_put(a.tr, name, size, walked, not old)
  end
end

-- The value of `name` changed size and kept its expiry (increment without a TTL).
local function account_resize(ix, name, vkey, size, now)
  local score = redis.call('ZSCORE', ix, name)
  local expiry = score and math.floor(tonumber(score)) or (now + math.max(redis.call('PTTL', vkey), 1))
  account_set(ix, name, expiry, size)
end
-- ============================================== [exact analysis]
"""
