--[[
  Writes one session into its bucket hash and keeps the bucket alive at least as long as the
  session, so a bucket never outlives its longest-lived session and vanishes once all are stale.
  (PEXPIRE GT alone cannot do this: a key without a TTL counts as infinite for GT.)

  Now and then (the caller decides, on a small share of writes) it also removes expired sessions
  from this bucket, judged on a bounded random sample of its fields: hash mode then stays bounded
  even when no cleanup worker runs.

  KEYS[1]  bucket hash
  ARGV[1]  field: the session's binary key
  ARGV[2]  value: envelope carrying the absolute expiry
  ARGV[3]  the session's TTL in ms (integer > 0)
  ARGV[4]  in-line sweep: how many random fields to check (0 = no sweep this time)
  ARGV[5]  grace ms subtracted from the server clock (TIME) before judging expiry

  Returns the number of expired sessions removed by the in-line sweep.
]]
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local ttl = tonumber(ARGV[3])
if redis.call('PTTL', KEYS[1]) < ttl then
  redis.call('PEXPIRE', KEYS[1], ttl)
end

local sample = tonumber(ARGV[4]) or 0
if sample <= 0 then
  return 0
end
local t = redis.call('TIME')
local cutoff = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - tonumber(ARGV[5])
local pairs_ = redis.call('HRANDFIELD', KEYS[1], sample, 'WITHVALUES')
local dead = {}
for i = 1, #pairs_, 2 do
  -- envelope_expiry: the prelude (src/lua/prelude.lua)
  local expiry = envelope_expiry(pairs_[i + 1])
  if expiry and expiry <= cutoff then
    dead[#dead + 1] = pairs_[i]
  end
end
if #dead > 0 then
  redis.call('HDEL', KEYS[1], unpack(dead))
end
return #dead
