--[[
  Moves one session from a legacy layout (connect-redis, or redisession's other mode or prefix)
  into the store's layout, atomically: the legacy value is compared with what the caller read and
  converted, so of two requests racing on one legacy session exactly one moves it and the other
  finds it in the new layout. A live session already in the new layout is never overwritten (it
  is newer), nor is a destroyed one (its tombstone); the legacy copy is dropped either way. Both keys must be on one node (no cluster).

  KEYS[1]  legacy key: a string (connect-redis, string mode) or a bucket hash (hash mode)
  KEYS[2]  target key: a string key (string mode) or a bucket hash (hash mode)
  ARGV[1]  legacy field, '' when the legacy key is a string
  ARGV[2]  the legacy value the caller read (the move happens only if it is still that)
  ARGV[3]  target field, '' when the target is a string key
  ARGV[4]  the value to store (the store's envelope)
  ARGV[5]  TTL in ms (integer > 0): the legacy session's remaining life
  ARGV[6]  now, Unix ms: a hash-mode target whose expiry is at or below it counts as absent

  Returns 1 when moved, 0 when the target already held a live session or a tombstone (legacy copy
  dropped), -1 when the legacy value changed or went meanwhile (nothing done).
]]
--- @include "value"
--- @include "session"
local current
if ARGV[1] == '' then
  if redis.call('TYPE', KEYS[1])['ok'] ~= 'string' then
    return -1
  end
  current = redis.call('GET', KEYS[1])
else
  if redis.call('TYPE', KEYS[1])['ok'] ~= 'hash' then
    return -1
  end
  current = redis.call('HGET', KEYS[1], ARGV[1])
end
if current ~= ARGV[2] then
  return -1
end

-- a live session, or a tombstone in force (the id was destroyed: the legacy copy must not bring
-- it back), both count as newer
local live = state(KEYS[2], ARGV[3], tonumber(ARGV[6])) ~= 'absent'

if not live then
  store_value(KEYS[2], ARGV[3], ARGV[4], ARGV[5])
end
if ARGV[1] == '' then
  redis.call('DEL', KEYS[1])
else
  redis.call('HDEL', KEYS[1], ARGV[1])
end
if live then
  return 0
end
return 1
