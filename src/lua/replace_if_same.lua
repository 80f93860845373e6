--[[
  Replaces a string only if it still holds exactly what the caller read: a compare-and-set, so two
  processes updating the store's manifest at once (each adding the codec it writes with) never
  undo each other's change; the one that loses reads again and retries.

  KEYS[1]  the key (the store's manifest)
  ARGV[1]  the value that was read
  ARGV[2]  the new value

  Returns 1 when replaced, 0 when the value changed or went away meanwhile.
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2])
  return 1
end
return 0
