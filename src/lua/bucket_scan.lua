--[[
  Walks one slice of one bucket hash and counts, or deletes, its expired sessions in the same
  atomic step, so a session rewritten by a web request just before this call is judged on its new
  expiry and never lost. Work per call is bounded: HSCAN returns a small listpack bucket whole and
  a big hashtable bucket COUNT-sized slices at a time; call again with the returned cursor until
  it is '0'.

  KEYS[1]  bucket hash
  ARGV[1]  HSCAN cursor ('0' to start)
  ARGV[2]  HSCAN COUNT hint
  ARGV[3]  cutoff, Unix ms: a session whose expiry is at or below it is expired.
           '' = use the server clock (TIME) minus ARGV[4]
  ARGV[4]  grace ms subtracted from TIME (allows for web servers' clocks running ahead)
  ARGV[5]  '1' to delete expired sessions, '0' to only count them

  Returns { next cursor, fields scanned, expired sessions, live sessions }. Fields that are not our
  envelope are neither (scanned - expired - live of them), and are never deleted.
]]
-- Something else sitting at a bucket's name (not ours) is skipped, not an error that would fail
-- the whole shard on every retry.
if redis.call('TYPE', KEYS[1])['ok'] ~= 'hash' then
  return { '0', 0, 0, 0 }
end

local cutoff = tonumber(ARGV[3])
if not cutoff then
  local t = redis.call('TIME')
  cutoff = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - tonumber(ARGV[4])
end

local reply = redis.call('HSCAN', KEYS[1], ARGV[1], 'COUNT', ARGV[2])
local entries = reply[2]
local dead = {}
local live = 0
for i = 1, #entries, 2 do
  local v = entries[i + 1]
  local format = string.byte(v, 1)
  if format == 0xA3 then
    local a, b, c, d, e, f = string.byte(v, 3, 8)
    if f then
      if ((((a * 256 + b) * 256 + c) * 256 + d) * 256 + e) * 256 + f <= cutoff then
        dead[#dead + 1] = entries[i]
      else
        live = live + 1
      end
    end
  elseif format == 0xA2 then
    live = live + 1
  end
end

if ARGV[5] == '1' then
  -- unpack() is limited by the Lua C stack: delete in chunks
  for i = 1, #dead, 1000 do
    redis.call('HDEL', KEYS[1], unpack(dead, i, math.min(i + 999, #dead)))
  end
end
return { reply[1], #entries / 2, #dead, live }
