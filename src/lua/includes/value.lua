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
