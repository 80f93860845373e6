--[[
  Prelude: src/redis/scripts.ts puts this in front of every script, so the value envelope
  (src/codec/envelope.ts) is read and written in one place, and a session script's fast path (the
  request path's usual case, written before the script's includes so that their helpers are not
  even made when it returns) has what it needs: the expiry bytes, and keeping a bucket alive.

  A stored value starts with its format byte:
    0xA3 / 0xA2  format 1: a codec byte, then (0xA3 only) the expiry at bytes 3..8
    0xB1 / 0xB0  format 2 ('compact', uncompressed): (0xB1 only) the expiry at bytes 2..7
    0xDE         a tombstone (src/modes/tombstone.ts): 0x00, then "dead until" at bytes 3..8
  The expiry is the absolute Unix time in ms, 6 bytes big-endian.
]]

local TOMBSTONE = 0xDE

-- What a stored value says of its end, from one read of its first 8 bytes (the one place that
-- knows where each format keeps it): 1 and the expiry (Unix ms) for a session that has one, 2 and
-- the end for a tombstone, 0 for a session without an expiry; nil when the value is not ours (or
-- too short to hold what its first byte announces).
local function stored_end(v)
  local f, a, b, c, d, e, g, h = string.byte(v, 1, 8)
  if f == 0xB1 then
    if not g then
      return nil
    end
    return 1, ((((a * 256 + b) * 256 + c) * 256 + d) * 256 + e) * 256 + g
  elseif f == 0xA3 or f == TOMBSTONE then
    if not h then
      return nil
    end
    return f == 0xA3 and 1 or 2, ((((b * 256 + c) * 256 + d) * 256 + e) * 256 + g) * 256 + h
  elseif f == 0xB0 or f == 0xA2 then
    return 0
  end
  return nil
end

-- Until when a tombstone is in force (Unix ms); nil when v is not a tombstone.
local function tombstone_until(v)
  local kind, at = stored_end(v)
  if kind == 2 then
    return at
  end
  return nil
end

-- The expiry of a stored value (Unix ms); false when it carries none; nil when it is not ours.
local function envelope_expiry(v)
  local kind, at = stored_end(v)
  if kind == 1 then
    return at
  elseif kind == 0 then
    return false
  end
  return nil
end

-- Whether a value (or only its first byte) starts like one of our envelopes.
local function envelope_is_ours(v)
  local format = string.byte(v, 1)
  return format == 0xA3 or format == 0xA2 or format == 0xB1 or format == 0xB0
end

-- The value with its expiry set to `expiry6` (6 bytes, as the envelope stores it); nil when the
-- value is not ours. A value without an expiry gets one; the payload is never touched.
local function envelope_with_expiry(v, expiry6)
  local format = string.byte(v, 1)
  if format == 0xA3 then
    return string.sub(v, 1, 2) .. expiry6 .. string.sub(v, 9)
  elseif format == 0xA2 then
    return string.char(0xA3) .. string.sub(v, 2, 2) .. expiry6 .. string.sub(v, 3)
  elseif format == 0xB1 then
    return string.char(0xB1) .. expiry6 .. string.sub(v, 8)
  elseif format == 0xB0 then
    return string.char(0xB1) .. expiry6 .. string.sub(v, 2)
  end
  return nil
end

-- The value as it would be without an expiry (format 1: 0xA2, format 2: 0xB0), for comparing two
-- copies of one session whatever their expiry says; nil when the value is not ours.
local function envelope_without_expiry(v)
  local format = string.byte(v, 1)
  if format == 0xA3 then
    return string.char(0xA2) .. string.sub(v, 2, 2) .. string.sub(v, 9)
  elseif format == 0xB1 then
    return string.char(0xB0) .. string.sub(v, 8)
  elseif format == 0xA2 or format == 0xB0 then
    return v
  end
  return nil
end

-- ms as 6 bytes, big-endian (exact: Lua numbers are doubles, and these fit in 48 bits).
local function ms_bytes(ms)
  local hi, lo = math.floor(ms / 16777216), ms % 16777216
  return string.char(
    math.floor(hi / 65536),
    math.floor(hi / 256) % 256,
    hi % 256,
    math.floor(lo / 65536),
    math.floor(lo / 256) % 256,
    lo % 256
  )
end

-- Keeps a bucket alive at least `ms`, so it never outlives its longest-lived entry and vanishes
-- once all are stale. PEXPIRE GT does it in one call when the bucket has a shorter TTL (the usual
-- case: the newest write ends last); a key without a TTL counts as infinite for GT, so it gets one.
-- `ms` is best passed as the caller's ARGV string: Redis 7.0 formats a Lua number with snprintf.
local function keep_bucket(key, ms)
  if redis.call('PEXPIRE', key, ms, 'GT') == 0 and redis.call('PTTL', key) == -1 then
    redis.call('PEXPIRE', key, ms)
  end
end
