--[[
  What the scripts that remove expired fields share (bucket_scan.lua, user_index_prune.lua,
  user_index_revoke.lua): the server's clock, a user index entry's expiry, and deleting many
  fields of a hash at once.
]]

-- The server's clock (TIME, or a TIME reply already read) in Unix ms.
local function server_ms(time)
  local t = time or redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- A user index entry's expiry, Unix ms: the number after its last ':' ("<created>:<expiry>",
-- "r:<expiry>", the fence "f:<stamp>:<until>"); nil for a value of no known shape.
local function entry_expiry(v)
  return tonumber(string.match(v, ':(%d+)$'))
end

-- Whether a user index entry ended more than `grace` ms before `now` (one of no known shape: yes).
local function entry_gone(v, now, grace)
  local expiry = entry_expiry(v)
  return not expiry or expiry + grace <= now
end

-- HDEL of any number of fields: unpack() is limited by the Lua C stack, so 1000 at a time.
local function delete_fields(key, fields)
  for i = 1, #fields, 1000 do
    redis.call('HDEL', key, unpack(fields, i, math.min(i + 999, #fields)))
  end
end
