--[[
  set: stores a session, unless its id was destroyed (a tombstone is in force) or, with an owner,
  the owner's index refuses it (destroyUser revoked this session, or fenced every write that started
  before it). On a single node the owner's index entry is written in the same atomic step, with
  the session's exact expiry; on a cluster the caller runs user_index_add.lua first and gives no index.

  In hash mode, now and then (the caller decides, on a small share of writes) it also removes
  expired sessions and tombstones from the bucket written to, judged on a bounded random sample
  of its fields: hash mode stays bounded even when no cleanup worker runs.

  KEYS[1]  the session: string key (string mode) or bucket hash (hash mode)
  KEYS[2]  optional: the owner's user index (single node only)
  ARGV[1]  hash mode: the session's field (its binary key); '' in string mode
  ARGV[2]  value (the store's envelope)
  ARGV[3]  TTL in ms (integer > 0)
  ARGV[4]  now, Unix ms: when this write started (the web server's clock, which stamped the expiry)
  ARGV[5]  hash mode, in-line sweep: how many random fields to check (0 = no sweep this time)
  ARGV[6]  grace ms subtracted from the server clock (TIME) by the in-line sweep, and from now by
           the index's own clean-up
  ARGV[7]  with KEYS[2]: the index field (the session's binary key)

  Returns 1 when stored, 0 when refused because the id was destroyed, -1 when refused by the
  owner's index.
]]
local key, field = KEYS[1], ARGV[1]
local ttl, now, grace = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[6])

-- hash mode, now and then: removes expired sessions and tombstones from the bucket written to,
-- judged on a sample of ARGV[5] random fields
local function sweep_bucket()
  local sample = tonumber(ARGV[5]) or 0
  if sample <= 0 then
    return
  end
  local t = redis.call('TIME')
  local cutoff = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - grace
  local pairs_ = redis.call('HRANDFIELD', key, sample, 'WITHVALUES')
  local dead = {}
  for i = 1, #pairs_, 2 do
    -- a session's expiry, or a tombstone's end (stored_end: the prelude)
    local kind, at = stored_end(pairs_[i + 1])
    if kind and kind > 0 and at <= cutoff then
      dead[#dead + 1] = pairs_[i]
    end
  end
  if #dead > 0 then
    redis.call('HDEL', key, unpack(dead))
  end
end

-- The request path's usual save, hash mode without an owner, in straight-line code before the
-- includes: it returns before their helpers are made (about 1 µs of Redis time a save, measured).
-- It decides as the general path below does.
if field ~= '' and not KEYS[2] then
  local first = redis.call('HGET', key, field)
  if first and (tombstone_until(first) or 0) > now then
    return 0
  end
  redis.call('HSET', key, field, ARGV[2])
  keep_bucket(key, ARGV[3])
  sweep_bucket()
  return 1
end

--- @include "value"
--- @include "session"
--- @include "user_entry"

-- a tombstone is all that is read (string mode: its first byte is enough; a tombstone there is a
-- hash, and an old one a string)
local first
if field == '' then
  first = redis.pcall('GETRANGE', key, '0', '0')
  if type(first) == 'table' and first['err'] then
    first = string_tombstone(key, first)
  end
else
  first = redis.call('HGET', key, field)
end
if first and string.byte(first, 1) == TOMBSTONE and (field == '' or (tombstone_until(first) or 0) > now) then
  return 0
end

local idx = KEYS[2]
local allowed, old = entry_allows(idx, ARGV[7], now)
if not allowed then
  return -1
end

store_value(key, field, ARGV[2], ARGV[3])
if idx then
  entry_put(idx, ARGV[7], old, now, now + ttl, ARGV[3], true, grace)
end
if field ~= '' then
  sweep_bucket()
end
return 1
