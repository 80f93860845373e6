--[[
  Records that a user owns a session (set / touch with the userId option), before or in the same
  transaction as the session write. A session that destroyUser revoked stays revoked: the write
  that raced with destroyUser is refused here and the caller removes the session it just wrote.
  The index lives as long as its longest-lived entry, and each call drops a few expired entries.

  KEYS[1]  user index hash (src/keys/user-index-key.ts)
  ARGV[1]  field: the session's binary key
  ARGV[2]  the session's absolute expiry, Unix ms
  ARGV[3]  now, Unix ms (the web server's clock, which stamped the expiry)
  ARGV[4]  the session's TTL in ms (integer > 0), for the index's own TTL

  Values: "<created ms>:<expiry ms>" for a live entry, "r:<expiry ms>" once revoked.
  Returns 1 when indexed, 0 when the session was revoked by destroyUser.
]]
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old and string.sub(old, 1, 2) == 'r:' then
  return 0
end
local created = ARGV[3]
if old then
  created = string.match(old, '^(%d+):') or ARGV[3]
end
redis.call('HSET', KEYS[1], ARGV[1], created .. ':' .. ARGV[2])
local ttl = tonumber(ARGV[4])
if redis.call('PTTL', KEYS[1]) < ttl then
  redis.call('PEXPIRE', KEYS[1], ttl)
end

-- Bounded clean-up: a few random entries, judged on their recorded expiry.
local now = tonumber(ARGV[3])
local sample = redis.call('HRANDFIELD', KEYS[1], 8, 'WITHVALUES')
local dead = {}
for i = 1, #sample, 2 do
  local expiry = tonumber(string.match(sample[i + 1], ':(%d+)$'))
  if expiry and expiry <= now then
    dead[#dead + 1] = sample[i]
  end
end
if #dead > 0 then
  redis.call('HDEL', KEYS[1], unpack(dead))
end
return 1
