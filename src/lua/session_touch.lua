--[[
  touch: moves a live session's end to what its cookie now says, without touching its data (a
  touch carries the copy its request loaded, possibly older than what another request saved since).
  A later end is applied at once. An earlier one is not: the caller gets the stored value back
  and applies it with session_shorten.lua only if its copy holds the same data, so a stale touch
  never cuts short the life a concurrent save gave. A difference of at most ARGV[5] ms changes
  nothing (requests of one session racing with each other's touches). A session that is absent,
  expired or destroyed is not brought back.

  KEYS[1]  the session: string key (string mode) or bucket hash (hash mode)
  KEYS[2]  optional: the owner's user index (single node only)
  ARGV[1]  hash mode: the session's field; '' in string mode
  ARGV[2]  the new end, Unix ms (web server clock)
  ARGV[3]  the new TTL in ms (integer > 0)
  ARGV[4]  now, Unix ms: when this touch started
  ARGV[5]  slack ms
  ARGV[6]  grace ms for the index's own clean-up
  ARGV[7]  with KEYS[2]: the index field (the session's binary key)

  Returns 1 when the session ends at the new time (or within the slack of it), 0 when there is
  no live session, -1 when the owner's index refuses the touch (logged out everywhere), or
  { 2, value } when the new end is earlier: value is what is stored now.
]]
local key, field = KEYS[1], ARGV[1]
local expiry, ttl, now = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])

-- The request path's usual touch, hash mode without an owner, in straight-line code before the
-- includes: it returns before their helpers are made, and makes no call it can do without (about
-- 2.5 µs of Redis time a touch, measured). It decides as the general path below does; a value that
-- is not a session with an end (a tombstone, foreign bytes) goes on to it.
if field ~= '' and not KEYS[2] then
  local v = redis.call('HGET', key, field)
  if not v then
    return 0
  end
  local stored = envelope_expiry(v)
  if stored then
    if stored <= now then
      return 0
    end
    local left = stored - now
    if ttl > left then
      redis.call('HSET', key, field, envelope_with_expiry(v, ms_bytes(expiry)))
      keep_bucket(key, ARGV[3])
      return 1
    end
    if left - ttl <= tonumber(ARGV[5]) then
      return 1
    end
    return { 2, v }
  end
end

--- @include "value"
--- @include "session"
--- @include "user_entry"

local kind, v, left = state(key, field, now)
if kind ~= 'live' then
  return 0
end
local idx = KEYS[2]
local allowed, old = entry_allows(idx, ARGV[7], now)
if not allowed then
  return -1
end
-- left is nil for a value without a known end: treat as later than anything
if left == nil or left < 0 or ttl > left then
  set_end(key, field, v, expiry, ARGV[3])
  if idx then
    entry_put(idx, ARGV[7], old, now, expiry, ARGV[3], true, tonumber(ARGV[6]))
  end
  return 1
end
if left - ttl <= tonumber(ARGV[5]) then
  return 1
end
return { 2, v }
