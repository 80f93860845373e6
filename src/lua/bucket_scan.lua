--[[
  Walks a slice of each of a few bucket hashes and counts, or deletes, their expired sessions in
  the same atomic step, so a session rewritten by a web request just before this call is judged on
  its new expiry and never lost. Each bucket is decided on its own; one call covers several
  buckets only to save the per-call cost (one EVALSHA instead of one per bucket), and only where
  that is allowed (not on a cluster, where the keys of one call must share a slot: one key there).

  Work per call is bounded: HSCAN returns a small listpack bucket whole and a big hashtable bucket
  COUNT-sized slices at a time, and the call stops taking further buckets once it has looked at
  ARGV[5] fields. The caller calls again for buckets it got no answer for, and for buckets whose
  returned cursor is not '0'. Each call reports how long it ran by the server's clock, so the
  caller can size the next one (src/sweep/call-budget.ts).

  KEYS[1..n]  bucket hashes
  ARGV[1]     HSCAN COUNT hint
  ARGV[2]     cutoff, Unix ms: a session whose expiry is at or below it is expired.
              '' = use the server clock (TIME) minus ARGV[3]
  ARGV[3]     grace ms subtracted from TIME (allows for web servers' clocks running ahead)
  ARGV[4]     '1' to delete expired sessions, '0' to only count them
  ARGV[5]     field budget: no further bucket is started once this many fields were looked at
  ARGV[5+i]   HSCAN cursor for KEYS[i] ('0' to start)

  Returns, for the first m >= 1 buckets (in KEYS order), 4 entries each, then the µs it ran:
  { next cursor, fields scanned, expired sessions, live sessions, ..., µs }. Fields that are not
  our envelope are neither (scanned - expired - live of them), and are never deleted; tombstones
  are neither either, and are deleted (uncounted) once their time is past.
]]
--- @include "sweeping"

local started = redis.call('TIME')
local cutoff = tonumber(ARGV[2])
if not cutoff then
  cutoff = server_ms(started) - tonumber(ARGV[3])
end
local remove = ARGV[4] == '1'
local budget = tonumber(ARGV[5])
local count = tonumber(ARGV[1])

local out = {}
local spent = 0
for k = 1, #KEYS do
  if k > 1 and spent >= budget then
    break
  end
  local key = KEYS[k]
  local reply
  -- a bucket that HSCAN would return whole anyway (no more fields than the COUNT hint, first
  -- call) is read with HGETALL, which costs Redis about a quarter less a field. pcall: a user
  -- whose ACL lacks HLEN or HGETALL (the web tier's list does) gets the HSCAN instead
  local small = ARGV[5 + k] == '0' and redis.pcall('HLEN', key)
  if type(small) == 'number' and small <= count then
    local all = redis.pcall('HGETALL', key)
    if not all['err'] then
      reply = { '0', all }
    end
  end
  if not reply then
    reply = redis.pcall('HSCAN', key, ARGV[5 + k], 'COUNT', ARGV[1])
  end
  if reply['err'] and not string.find(reply['err'], 'WRONGTYPE', 1, true) then
    return redis.error_reply(reply['err'])
  end
  -- Something else sitting at a bucket's name (not ours: WRONGTYPE) is skipped, not an error that
  -- would fail the whole shard on every retry.
  if reply['err'] then
    out[#out + 1] = '0'
    out[#out + 1] = 0
    out[#out + 1] = 0
    out[#out + 1] = 0
    spent = spent + 1
  else
    local entries = reply[2]
    local dead = {}
    local tombs = 0
    local live = 0
    for i = 1, #entries, 2 do
      -- stored_end: the prelude (src/lua/prelude.lua). A tombstone is removed once past, never
      -- counted as a session
      local kind, at = stored_end(entries[i + 1])
      if kind == 2 then
        if remove and at <= cutoff then
          dead[#dead + 1] = entries[i]
          tombs = tombs + 1
        end
      elseif kind == 0 then
        live = live + 1
      elseif kind == 1 then
        if at <= cutoff then
          dead[#dead + 1] = entries[i]
        else
          live = live + 1
        end
      end
    end
    if remove then
      delete_fields(key, dead)
    end
    out[#out + 1] = reply[1]
    out[#out + 1] = #entries / 2
    out[#out + 1] = #dead - tombs
    out[#out + 1] = live
    spent = spent + 1 + #entries / 2
  end
end
local ended = redis.call('TIME')
out[#out + 1] = (tonumber(ended[1]) - tonumber(started[1])) * 1000000 + tonumber(ended[2]) - tonumber(started[2])
return out
