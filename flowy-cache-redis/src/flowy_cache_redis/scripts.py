"""The Lua scripts the Redis cache index runs: each a single round trip, atomic on the server.

Keys, under a prefix ``P`` (option ``prefix``, default ``flowy``):

* ``P:e:KEY``: the entry as JSON (entry, outputs' records, size); expires at its ttl;
* ``P:pl``: hash KEY -> pipeline (which pipeline's sets to touch on a hit);
* per pipeline ``PL``: ``P:lru:PL`` (sorted set KEY by last use), ``P:sz:PL`` (KEY -> bytes),
  ``P:ct:PL`` (KEY -> created at), ``P:uris:PL`` (KEY -> JSON list of output URIs),
  ``P:bytes:PL`` (the sum of ``P:sz:PL``, kept by every write, made exact by each sweep);
* ``P:pipelines`` (set), ``P:limits`` (hash pipeline or "" -> JSON), ``P:hits``
  (hash KEY -> hits) and ``P:stats`` (hash: ``hits``).

An entry that Redis expired leaves its members in the per-pipeline sets until a
sweep (a publish, an eviction, a listing) finds its ``P:e:KEY`` gone; the sweep
then reports it as evicted by ttl.
"""

from __future__ import annotations

#: Shared functions: limits of a pipeline; drop one key; sweep one pipeline.
_COMMON = """
local P = ARGV[1]
local function limits(pl)
  local raw = redis.call('HGET', P .. ':limits', pl)
  if not raw then raw = redis.call('HGET', P .. ':limits', '') end
  if not raw then return nil, nil end
  local l = cjson.decode(raw)
  local ttl, maxb = l['ttl'], l['max_bytes']
  if ttl == cjson.null then ttl = nil end
  if maxb == cjson.null then maxb = nil end
  return ttl, maxb
end
local function drop(pl, key)
  local size = tonumber(redis.call('HGET', P .. ':sz:' .. pl, key) or '0')
  redis.call('DECRBY', P .. ':bytes:' .. pl, size)
  redis.call('DEL', P .. ':e:' .. key)
  redis.call('ZREM', P .. ':lru:' .. pl, key)
  redis.call('HDEL', P .. ':sz:' .. pl, key)
  redis.call('HDEL', P .. ':ct:' .. pl, key)
  redis.call('HDEL', P .. ':uris:' .. pl, key)
  redis.call('HDEL', P .. ':pl', key)
  redis.call('HDEL', P .. ':hits', key)
end
-- Evict pl's entries past their ttl at now, then the least recently used over budget.
-- Returns a flat list: key, reason, size, key, reason, size, ...
local function sweep(pl, now)
  local ttl, maxb = limits(pl)
  local out = {}
  local members = redis.call('ZRANGE', P .. ':lru:' .. pl, 0, -1)
  local total = 0
  for _, key in ipairs(members) do
    local size = tonumber(redis.call('HGET', P .. ':sz:' .. pl, key) or '0')
    local created = tonumber(redis.call('HGET', P .. ':ct:' .. pl, key) or '0')
    local alive = redis.call('EXISTS', P .. ':e:' .. key) == 1
    if (not alive) or (ttl and created + ttl <= now) then
      drop(pl, key)
      table.insert(out, key); table.insert(out, 'ttl'); table.insert(out, size)
    else
      if ttl then
        redis.call('PEXPIREAT', P .. ':e:' .. key, math.floor((created + ttl) * 1000))
      else
        redis.call('PERSIST', P .. ':e:' .. key)
      end
      total = total + size
    end
  end
  if maxb then
    while total > maxb do
      local oldest = redis.call('ZRANGE', P .. ':lru:' .. pl, 0, 0)
      if #oldest == 0 then break end
      local key = oldest[1]
      local size = tonumber(redis.call('HGET', P .. ':sz:' .. pl, key) or '0')
      drop(pl, key)
      total = total - size
      table.insert(out, key); table.insert(out, 'size'); table.insert(out, size)
    end
  end
  redis.call('SET', P .. ':bytes:' .. pl, total)  -- exact again after every sweep
  if redis.call('ZCARD', P .. ':lru:' .. pl) == 0 then
    redis.call('SREM', P .. ':pipelines', pl)
    redis.call('DEL', P .. ':bytes:' .. pl)
  end
  return out
end
"""

#: ARGV: prefix, key, pipeline, entry JSON, size, created_at, uris JSON, now, used.
#: O(evicted): the pipeline's byte count is kept in ``P:bytes:PL``, so a publish never walks
#: the pipeline's entries (a map of thousands of elements publishes each).
PUBLISH = (
    _COMMON
    + """
local key, pl = ARGV[2], ARGV[3]
local size, created, now = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[8])
local old = redis.call('HGET', P .. ':pl', key)
if old then drop(old, key) end
redis.call('SET', P .. ':e:' .. key, ARGV[4])
redis.call('HSET', P .. ':pl', key, pl)
redis.call('SADD', P .. ':pipelines', pl)
redis.call('ZADD', P .. ':lru:' .. pl, tonumber(ARGV[9]), key)
redis.call('HSET', P .. ':sz:' .. pl, key, size)
redis.call('HSET', P .. ':ct:' .. pl, key, ARGV[6])
redis.call('HSET', P .. ':uris:' .. pl, key, ARGV[7])
local total = redis.call('INCRBY', P .. ':bytes:' .. pl, size)
local ttl, maxb = limits(pl)
local out = {}
if ttl then
  if created + ttl <= now then
    drop(pl, key)
    return {key, 'ttl', size}
  end
  redis.call('PEXPIREAT', P .. ':e:' .. key, math.floor((created + ttl) * 1000))
end
if maxb then
  while total > maxb do
    local oldest = redis.call('ZRANGE', P .. ':lru:' .. pl, 0, 0)
    if #oldest == 0 then break end
    local victim = oldest[1]
    local gone = tonumber(redis.call('HGET', P .. ':sz:' .. pl, victim) or '0')
    local alive = redis.call('EXISTS', P .. ':e:' .. victim) == 1
    drop(pl, victim)
    total = total - gone
    table.insert(out, victim); table.insert(out, alive and 'size' or 'ttl')
    table.insert(out, gone)
  end
end
return out
"""
)

#: ARGV: prefix, at, key, key, ...
RECORD_HITS = """
local P, at = ARGV[1], tonumber(ARGV[2])
local counted = 0
for i = 3, #ARGV do
  local key = ARGV[i]
  local pl = redis.call('HGET', P .. ':pl', key)
  if pl and redis.call('EXISTS', P .. ':e:' .. key) == 1 then
    redis.call('ZADD', P .. ':lru:' .. pl, 'XX', at, key)
    redis.call('HINCRBY', P .. ':hits', key, 1)
    counted = counted + 1
  end
end
if counted > 0 then redis.call('HINCRBY', P .. ':stats', 'hits', counted) end
return counted
"""

#: ARGV: prefix, now, pipeline (or nothing: every pipeline).
EVICT = (
    _COMMON
    + """
local now = tonumber(ARGV[2])
local pipelines = {}
if #ARGV >= 3 then pipelines = {ARGV[3]} else
  pipelines = redis.call('SMEMBERS', P .. ':pipelines') end
local out = {}
for _, pl in ipairs(pipelines) do
  local gone = sweep(pl, now)
  for i = 1, #gone, 3 do table.insert(out, {pl, gone[i], gone[i + 1], gone[i + 2]}) end
end
return out
"""
)

#: ARGV: prefix, key, key, ... (drop these entries).
DROP = (
    _COMMON
    + """
local n = 0
for i = 2, #ARGV do
  local pl = redis.call('HGET', P .. ':pl', ARGV[i])
  if pl then drop(pl, ARGV[i]); n = n + 1 end
end
return n
"""
)

#: ARGV: prefix. Per pipeline: name, live entries, bytes, then the live keys' URIs (JSON lists).
LIVE = """
local P = ARGV[1]
local out = {}
for _, pl in ipairs(redis.call('SMEMBERS', P .. ':pipelines')) do
  local n, bytes, uris = 0, 0, {}
  for _, key in ipairs(redis.call('ZRANGE', P .. ':lru:' .. pl, 0, -1)) do
    if redis.call('EXISTS', P .. ':e:' .. key) == 1 then
      n = n + 1
      bytes = bytes + tonumber(redis.call('HGET', P .. ':sz:' .. pl, key) or '0')
      table.insert(uris, redis.call('HGET', P .. ':uris:' .. pl, key) or '[]')
    end
  end
  table.insert(out, {pl, n, bytes, uris})
end
return out
"""
