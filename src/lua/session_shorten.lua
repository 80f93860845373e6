--[[
  touch, second step: brings a session's end forward (its cookie now ends sooner) only if the
  session still holds exactly the bytes the caller compared its copy with, so a save that landed
  in between is never cut short. Data untouched. On a single node the owner's index entry follows
  in the same step; on a cluster it keeps the later expiry (it may only ever be later than the
  session's end, never earlier).

  KEYS[1]  the session: string key (string mode) or bucket hash (hash mode)
  KEYS[2]  optional: the owner's user index (single node only)
  ARGV[1]  hash mode: the session's field; '' in string mode
  ARGV[2]  the value the caller compared (session_touch.lua returned it)
  ARGV[3]  the new end, Unix ms
  ARGV[4]  the new TTL in ms (integer > 0)
  ARGV[5]  now, Unix ms
  ARGV[6]  grace ms for the index's own clean-up
  ARGV[7]  with KEYS[2]: the index field (the session's binary key)

  Returns 1 when shortened, 0 when the session changed or went meanwhile, -1 when the owner's
  index refuses it.
]]
--- @include "value"
--- @include "session"
--- @include "user_entry"

local key, field = KEYS[1], ARGV[1]
local expiry, now = tonumber(ARGV[3]), tonumber(ARGV[5])
if read(key, field) ~= ARGV[2] then
  return 0
end
local idx = KEYS[2]
local allowed, old = entry_allows(idx, ARGV[7], now)
if not allowed then
  return -1
end
set_end(key, field, ARGV[2], expiry, ARGV[4])
if idx then
  entry_put(idx, ARGV[7], old, now, expiry, ARGV[4], true, tonumber(ARGV[6]))
end
return 1
