--[[
  Is this key one of our string-mode sessions (a string that starts with our envelope)? Used by
  length() and clear() so that foreign data sharing the prefix is never counted or deleted.

  KEYS[1]  key found by SCAN under the store's prefix
  ARGV[1]  '1' to delete it when it is ours, '0' to only check

  Returns 1 when the key is ours (and, with ARGV[1] = '1', now deleted), else 0.
]]
if redis.call('TYPE', KEYS[1])['ok'] ~= 'string' then
  return 0
end
local format = string.byte(redis.call('GETRANGE', KEYS[1], 0, 0))
-- 0xA2 / 0xA3: envelope v1 without / with expiry (src/codec/envelope.ts)
if format ~= 0xA2 and format ~= 0xA3 then
  return 0
end
if ARGV[1] == '1' then
  redis.call('UNLINK', KEYS[1])
end
return 1
