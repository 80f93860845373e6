--[[
  Extends the life of a session that still exists by rewriting only the expiry in its value
  header (never shortening it): the session data stays exactly as stored, so a touch that carries an older copy of the
  session (express-session touches unmodified sessions at the end of a request) cannot undo a
  write another request made meanwhile. A session that was destroyed, or has already expired, is
  not brought back; an expired one is removed while we hold it.

  KEYS[1]  bucket hash
  ARGV[1]  field: the session's binary key
  ARGV[2]  the new absolute expiry: 6 bytes, Unix ms, big-endian (the envelope's own encoding)
  ARGV[3]  the session's TTL in ms (integer > 0), for the bucket's own TTL
  ARGV[4]  now, Unix ms (the web server's clock, the same one that stamped the expiry)

  Returns 1 when refreshed, 0 when there was nothing (live) to refresh.
]]
local old = redis.call('HGET', KEYS[1], ARGV[1])
if not old then
  return 0
end
-- envelope_expiry / envelope_with_expiry: the prelude (src/lua/prelude.lua)
local expiry = envelope_expiry(old)
local value = envelope_with_expiry(old, ARGV[2])
if expiry == nil or value == nil then
  -- not our envelope: leave it alone (get treats it as a miss)
  return 0
end
if expiry then
  if expiry <= tonumber(ARGV[4]) then
    redis.call('HDEL', KEYS[1], ARGV[1])
    return 0
  end
  -- Only ever extend: a stale touch (an old copy with a shorter cookie) must not cut short what a
  -- concurrent set (a "remember me" of 30 days) stored. (Compared as numbers: Lua compares
  -- strings with strcoll, which need not be bytewise.)
  local g, h, i, j, k, l = string.byte(ARGV[2], 1, 6)
  if ((((g * 256 + h) * 256 + i) * 256 + j) * 256 + k) * 256 + l <= expiry then
    return 1
  end
end
redis.call('HSET', KEYS[1], ARGV[1], value)
local ttl = tonumber(ARGV[3])
if redis.call('PTTL', KEYS[1]) < ttl then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return 1
