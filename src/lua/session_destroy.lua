--[[
  destroy: ends a session for good. Its value becomes a tombstone that lives as long as the
  session could have, and at least ARGV[4] ms: a save still in flight (another tab's request that
  loaded the session before the logout) lands on the tombstone and is refused, so a destroyed id
  stays destroyed. Its copy in a legacy layout goes in the same step (single node only), so a
  read-through cannot move it back. The owner's index entry is the caller's (it needs the owner,
  which needs decoding the value returned here); the tombstone keeps it from being rewritten.

  With a condition, the session is ended only if it is still what the caller decided on (destroyUser
  checks the owner first; a touch compares its data), else nothing is done and the current value
  is returned for the caller to decide again.

  KEYS[1]  the session: string key (string mode) or bucket hash (hash mode)
  KEYS[2]  optional: its legacy copy's key (connect-redis / string layout: a string; hash layout: a bucket)
  ARGV[1]  hash mode: the session's field; '' in string mode
  ARGV[2]  the legacy copy's field, '' for a string key (with KEYS[2])
  ARGV[3]  now, Unix ms
  ARGV[4]  the tombstone's shortest life, ms
  ARGV[5]  condition: 'any', 'same' (only if the value is still ARGV[6], a touch's new expiry
           aside) or 'absent' (only if there is no live session)
  ARGV[6]  the expected value, for 'same'

  Returns { 1, value it held or false } when ended, { 0, current value or false } when the
  condition did not hold.
]]
--- @include "value"
--- @include "session"

local key, field = KEYS[1], ARGV[1]
local now, life, condition = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local kind, v, left = state(key, field, now)
local current = (kind == 'live') and v or false
if condition == 'same' and not same_session(current, ARGV[6]) then
  return { 0, current }
end
if condition == 'absent' and current then
  return { 0, current }
end
if left ~= nil and left > life then
  life = left
end
if kind == 'dead' then
  -- already a tombstone: keep the longer of the two lives
  local until_ms = field == '' and (now + redis.call('PTTL', key)) or tombstone_until(v)
  if until_ms and until_ms - now > life then
    life = until_ms - now
  end
end
bury(key, field, now, life)
if KEYS[2] then
  if ARGV[2] == '' then
    redis.call('DEL', KEYS[2])
  else
    redis.call('HDEL', KEYS[2], ARGV[2])
  end
end
return { 1, current }
