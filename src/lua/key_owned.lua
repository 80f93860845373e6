--[[
  Is this key one of ours: a string-mode session, or a bucket hash, that starts with our envelope?
  length() and clear() ask before counting or deleting, so foreign data that happens to sit under
  the store's prefix, even with the right key shape, is never counted or deleted.
  (A bucket is judged by one random field: buckets only ever hold our values.)

  KEYS[1]  key found by SCAN under the store's prefix
  ARGV[1]  '1' to delete it when it is ours, '0' to only check
  ARGV[2]  the store's mode, 'string' or 'hash': in string mode a hash is ours only as a tombstone

  Returns 1 when the key is ours (and, with ARGV[1] = '1', now deleted), 2 when it is a string-mode
  tombstone (a string, or a hash of one field) (ours, deleted with ARGV[1] = '1', but no session: length() does not count it), else 0.
]]
--- @include "value"
--- @include "session"

local kind = redis.call('TYPE', KEYS[1])['ok']
local first
-- a string-mode tombstone: an old one is a string, a new one a hash of one field (tombstone.ts)
local tomb = false
if kind == 'string' then
  first = redis.call('GETRANGE', KEYS[1], 0, 0)
  tomb = is_tombstone(first)
elseif kind == 'hash' then
  -- two distinct fields if it has them: a tombstone has one
  local pairs_ = redis.call('HRANDFIELD', KEYS[1], 2, 'WITHVALUES')
  first = pairs_[2]
  tomb = #pairs_ == 2 and pairs_[1] == STRING_TOMBSTONE_FIELD and is_tombstone(first)
end
if not first or (kind == 'hash' and ARGV[2] == 'string' and not tomb) then
  return 0
end
-- envelope_is_ours: the prelude (src/lua/prelude.lua); is_tombstone: includes/value.lua. A bucket
-- may hold tombstones among its sessions
if not envelope_is_ours(first) and not is_tombstone(first) then
  return 0
end
if ARGV[1] == '1' then
  redis.call('UNLINK', KEYS[1])
end
if tomb then
  return 2
end
return 1
