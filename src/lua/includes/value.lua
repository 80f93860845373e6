--[[
  Stored values, as the scripts see them, beyond what the prelude (src/lua/prelude.lua) reads of
  the envelope: writing tombstones (src/modes/tombstone.ts), and comparing two copies of a session.
]]

local function tombstone(until_ms)
  return string.char(TOMBSTONE, 0) .. ms_bytes(until_ms)
end

local function is_tombstone(v)
  return v ~= nil and v ~= false and string.byte(v, 1) == TOMBSTONE
end

-- Whether two stored values hold the same session, whatever their expiry says (a touch only ever
-- rewrites the expiry bytes of a hash-mode value).
local function same_session(a, b)
  if a == b then
    return true
  end
  if not a or not b then
    return false
  end
  local bare = envelope_without_expiry(a)
  return bare ~= nil and bare == envelope_without_expiry(b)
end
