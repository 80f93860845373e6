--[[
  Refreshes a session that still exists: replaces its value (new expiry, current data) and extends
  the bucket's TTL. A session that was destroyed, or has already expired, is not brought back; an
  expired one is removed while we hold it.

  KEYS[1]  bucket hash
  ARGV[1]  field: the session's binary key
  ARGV[2]  value: envelope carrying the new absolute expiry
  ARGV[3]  the session's TTL in ms (integer > 0)
  ARGV[4]  now, Unix ms (the web server's clock, the same one that stamped the expiry)

  Returns 1 when refreshed, 0 when there was nothing (live) to refresh.
]]
local old = redis.call('HGET', KEYS[1], ARGV[1])
if not old then
  return 0
end
-- 0xA3: envelope v1 with an expiry at bytes 3..8 (src/codec/envelope.ts)
if string.byte(old, 1) == 0xA3 then
  local a, b, c, d, e, f = string.byte(old, 3, 8)
  if f and ((((a * 256 + b) * 256 + c) * 256 + d) * 256 + e) * 256 + f <= tonumber(ARGV[4]) then
    redis.call('HDEL', KEYS[1], ARGV[1])
    return 0
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local ttl = tonumber(ARGV[3])
if redis.call('PTTL', KEYS[1]) < ttl then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return 1
