--[[
  One session's place in Redis, for both storage modes: `key` is the string key (string mode,
  `field` = '') or the bucket hash (hash mode, `field` = the session's binary key).
  Needs includes/value.lua (and the prelude, which every script has).
]]

--[[
  A string-mode tombstone is a one-field hash at the session's key (src/modes/tombstone.ts), so
  that a plain SET ... GET (the web tier's save) fails on it with WRONGTYPE instead of writing over
  it. string_tombstone(key, err) is what reading it gives: the tombstone's bytes, as a hash-mode
  tombstone holds them; anything else at the key that is not a string is not ours, and raises the
  error the GET got.
]]
local STRING_TOMBSTONE_FIELD = 'tombstone'

local function string_tombstone(key, err)
  if redis.call('TYPE', key)['ok'] == 'hash' then
    local t = redis.call('HGET', key, STRING_TOMBSTONE_FIELD)
    if t and string.byte(t, 1) == TOMBSTONE then
      return t
    end
  end
  error(err)
end

local function read(key, field)
  if field == '' then
    local v = redis.pcall('GET', key)
    if type(v) == 'table' and v['err'] then
      return string_tombstone(key, v)
    end
    return v
  end
  return redis.call('HGET', key, field)
end

--[[
  What is stored for a session, judged at `now` (the web server's clock, which stamps expiries):
  'absent', 'dead' (a tombstone still in force), or 'live', with the value and, for a live one,
  how long it has left in ms (nil: no end known). An expired hash-mode session or tombstone counts
  as absent (the sweep removes it).
]]
local function state(key, field, now)
  local v = read(key, field)
  if not v then
    return 'absent'
  end
  local kind = string.byte(v, 1)
  if kind == TOMBSTONE then
    -- string mode: the key's own TTL ends a tombstone
    if field == '' or (tombstone_until(v) or 0) > now then
      return 'dead', v
    end
    return 'absent'
  end
  if field == '' then
    return 'live', v, redis.call('PTTL', key)
  end
  -- envelope_expiry: nil for a value that is not ours, false for one without an expiry
  local expiry = envelope_expiry(v)
  if expiry and expiry <= now then
    return 'absent'
  end
  return 'live', v, expiry and (expiry - now) or nil
end

-- Writes a session value that lives ttl ms (`ttl`: the caller's ARGV string, see keep_bucket).
local function store_value(key, field, value, ttl)
  if field == '' then
    redis.call('SET', key, value, 'PX', ttl)
  else
    redis.call('HSET', key, field, value)
    keep_bucket(key, ttl)
  end
end

--[[
  Replaces the session by a tombstone that lives `life` ms: every later write of this id is
  refused while it lasts, and reads find nothing.
]]
local function bury(key, field, now, life)
  if field == '' then
    -- a hash, not a string: the web tier's plain SET ... GET (src/modes/string-mode.ts) fails on it
    redis.call('UNLINK', key)
    redis.call('HSET', key, STRING_TOMBSTONE_FIELD, tombstone(now + life))
    redis.call('PEXPIRE', key, life)
  else
    redis.call('HSET', key, field, tombstone(now + life))
    keep_bucket(key, life)
  end
end

--[[
  Moves a live session's end to `expiry` (Unix ms; `ttl` ms from now), data untouched: the key's
  TTL in string mode, the 6 expiry bytes of the value in hash mode. `ttl` as for keep_bucket.
]]
local function set_end(key, field, v, expiry, ttl)
  if field == '' then
    redis.call('PEXPIRE', key, ttl)
    return
  end
  local value = envelope_with_expiry(v, ms_bytes(expiry))
  if value == nil then
    return -- not our envelope: left alone (get treats it as a miss)
  end
  redis.call('HSET', key, field, value)
  keep_bucket(key, ttl)
end
