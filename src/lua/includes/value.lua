--[[
  Stored values, as the scripts see them. Byte 1 says what a value is:
    0xA2  a session without an expiry in its header (string mode: Redis expires the key)
    0xA3  a session with its absolute expiry (Unix ms, 48 bits big-endian) at bytes 3..8
    0xDE  a tombstone: the id was destroyed; "dead until" (Unix ms) at bytes 3..8
  (src/codec/envelope.ts for the sessions, src/modes/tombstone.ts for tombstones.)
]]
local TOMBSTONE = 0xDE

-- The 48-bit big-endian number at bytes 3..8 of v, or nil when v is shorter.
local function ms_at(v)
  local a, b, c, d, e, f = string.byte(v, 3, 8)
  if not f then
    return nil
  end
  return ((((a * 256 + b) * 256 + c) * 256 + d) * 256 + e) * 256 + f
end

-- ms as 6 bytes, big-endian (exact: Lua numbers are doubles, and these fit in 48 bits).
local function ms_bytes(ms)
  local out = {}
  for i = 6, 1, -1 do
    out[i] = ms % 256
    ms = math.floor(ms / 256)
  end
  return string.char(unpack(out))
end

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
  if not a or not b or string.byte(a, 1) ~= 0xA3 or string.byte(b, 1) ~= 0xA3 then
    return false
  end
  return string.sub(a, 2, 2) == string.sub(b, 2, 2) and string.sub(a, 9) == string.sub(b, 9)
end
