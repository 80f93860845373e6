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
if redis.call('TYPE', KEYS[1])['ok'] ~= 'hash' then
  return { '0', 0, 0 }
end
local t = redis.call('TIME')
local cutoff = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - tonumber(ARGV[3])
local reply = redis.call('HSCAN', KEYS[1], ARGV[1], 'COUNT', ARGV[2])
local entries = reply[2]
local dead = {}
for i = 1, #entries, 2 do
  local expiry = tonumber(string.match(entries[i + 1], ':(%d+)$'))
  if not expiry or expiry <= cutoff then
    dead[#dead + 1] = entries[i]
  end
end
for i = 1, #dead, 1000 do
  redis.call('HDEL', KEYS[1], unpack(dead, i, math.min(i + 999, #dead)))
end
return { reply[1], #entries / 2, #dead }
