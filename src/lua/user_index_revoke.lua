--[[
  destroyUser, step one: marks every live entry of a user's index as revoked, in one atomic step,
  and returns their session keys so the caller deletes those sessions. From this point on a write
  to one of them (a request of that user still in flight) is refused by user_index_add.lua; a
  revoked entry stays until its session's expiry, so the refusal lasts as long as the session
  could have. Expired entries are dropped on the way.

  KEYS[1]  user index hash
  ARGV[1]  now, Unix ms

  Returns the session keys of the entries revoked now (live ones only).
]]
local now = tonumber(ARGV[1])
local all = redis.call('HGETALL', KEYS[1])
local taken = {}
local dead = {}
for i = 1, #all, 2 do
  local v = all[i + 1]
  local expiry = tonumber(string.match(v, ':(%d+)$'))
  if not expiry or expiry <= now then
    dead[#dead + 1] = all[i]
  elseif string.sub(v, 1, 2) ~= 'r:' then
    redis.call('HSET', KEYS[1], all[i], 'r:' .. expiry)
    taken[#taken + 1] = all[i]
  end
end
for i = 1, #dead, 1000 do
  redis.call('HDEL', KEYS[1], unpack(dead, i, math.min(i + 999, #dead)))
end
return taken
