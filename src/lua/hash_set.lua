--[[
  Writes one session into its bucket hash and keeps the bucket alive at least as long as the
  session, so a bucket never outlives its longest-lived session and vanishes once all are stale.
  (PEXPIRE GT alone cannot do this: a key without a TTL counts as infinite for GT.)

  KEYS[1]  bucket hash
  ARGV[1]  field: the session's binary key
  ARGV[2]  value: envelope carrying the absolute expiry
  ARGV[3]  the session's TTL in ms (integer > 0)

  Returns 1.
]]
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local ttl = tonumber(ARGV[3])
if redis.call('PTTL', KEYS[1]) < ttl then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return 1
