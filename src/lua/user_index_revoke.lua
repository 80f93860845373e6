--[[
  destroyUser, step one: marks every live entry of a user's index as revoked, in one atomic step,
  and returns the session keys of all revoked entries so the caller ends those sessions. From this point on a write to
  one of them (a request of that user still in flight) is refused (session_set.lua, user_index_add.lua);
  a revoked entry stays until its session's expiry, so the refusal lasts as long as the session
  could have. It also sets the index's fence to ARGV[1]: a write of this user that started at or
  before it, for a session the index does not know yet (a login in flight), is refused too. The
  fence lasts at least ARGV[2] ms and as long as the longest revoked session. Entries that
  expired more than ARGV[3] ms ago are dropped on the way (one that expired more recently may still
  be live for a web server whose clock is behind: it is revoked like the others).

  KEYS[1]  user index hash
  ARGV[1]  now, Unix ms: the fence
  ARGV[2]  the fence's shortest life, ms
  ARGV[3]  grace ms

  Returns the session keys of every revoked entry still within its life: those revoked now, and
  those an earlier call revoked (ending them again is harmless; returning before they are ended is not).
]]
--- @include "value"
--- @include "session"
--- @include "sweeping"

local now = tonumber(ARGV[1])
local grace = tonumber(ARGV[3])
local until_ms = now + tonumber(ARGV[2])
local all = redis.call('HGETALL', KEYS[1])
local taken = {}
local dead = {}
local stamp = now
for i = 1, #all, 2 do
  local field, v = all[i], all[i + 1]
  local expiry = entry_expiry(v)
  if field == '' then
    -- an earlier fence: the later stamp and end win
    local was = tonumber(string.match(v, '^f:(%d+):'))
    if was and was > stamp then
      stamp = was
    end
    if expiry and expiry > until_ms then
      until_ms = expiry
    end
  elseif entry_gone(v, now, grace) then
    dead[#dead + 1] = field
  else
    -- revoked earlier too: a destroyUser still running elsewhere may not have ended it yet, and
    -- this one must not return before it is
    if string.sub(v, 1, 2) ~= 'r:' then
      redis.call('HSET', KEYS[1], field, 'r:' .. expiry)
    end
    taken[#taken + 1] = field
    if expiry > until_ms then
      until_ms = expiry
    end
  end
end
delete_fields(KEYS[1], dead)
redis.call('HSET', KEYS[1], '', 'f:' .. stamp .. ':' .. until_ms)
keep_bucket(KEYS[1], until_ms - now)
return taken
