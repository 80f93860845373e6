--[[
  Records that a user owns a session, on a cluster, where the index and the session can sit on
  different nodes: run before the session's own write (session_set.lua / session_touch.lua without
  an index), which happens only if this accepts. (On a single node those scripts update the index
  themselves, in the same atomic step.) A session destroyUser revoked stays revoked, and a write
  that started at or before the fence of a destroyUser is refused. The entry's expiry only ever
  goes up here: the session's own write comes later and separately, so the entry must never end
  before the session it points to.

  KEYS[1]  user index hash (src/keys/user-index-key.ts)
  ARGV[1]  field: the session's binary key
  ARGV[2]  the session's absolute expiry, Unix ms
  ARGV[3]  now, Unix ms: when the write started (the web server's clock, which stamped the expiry)
  ARGV[4]  the session's TTL in ms (integer > 0), for the index's own TTL
  ARGV[5]  grace ms: entries that expired longer ago than this are dropped on the way
  ARGV[6]  optional: when the session was written, Unix ms, if earlier than now ('0': unknown, as
           for a legacy copy moved over: any fence refuses it)

  Returns 1 when indexed, 0 when refused (logged out everywhere meanwhile).
]]
--- @include "value"
--- @include "session"
--- @include "user_entry"

local now = tonumber(ARGV[3])
local allowed, old = entry_allows(KEYS[1], ARGV[1], tonumber(ARGV[6] or ARGV[3]))
if not allowed then
  return 0
end
entry_put(KEYS[1], ARGV[1], old, now, tonumber(ARGV[2]), tonumber(ARGV[4]), false, tonumber(ARGV[5]))
return 1
