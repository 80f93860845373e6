--[[
  Sweep of one user index: removes entries (live or revoked) whose expiry has passed, one HSCAN
  slice per call, so a huge index never blocks the server; call again with the returned cursor
  until it is '0'.

  KEYS[1]  user index hash
  ARGV[1]  HSCAN cursor ('0' to start)
  ARGV[2]  HSCAN COUNT hint
  ARGV[3]  grace ms subtracted from the server clock (TIME) before judging expiry

  Returns { next cursor, entries scanned, entries removed }.
]]
--- @include "sweeping"

if redis.call('TYPE', KEYS[1])['ok'] ~= 'hash' then
  return { '0', 0, 0 }
end
local now = server_ms()
local grace = tonumber(ARGV[3])
local reply = redis.call('HSCAN', KEYS[1], ARGV[1], 'COUNT', ARGV[2])
local entries = reply[2]
local dead = {}
for i = 1, #entries, 2 do
  if entry_gone(entries[i + 1], now, grace) then
    dead[#dead + 1] = entries[i]
  end
end
delete_fields(KEYS[1], dead)
return { reply[1], #entries / 2, #dead }
