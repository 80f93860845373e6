--[[
  Deletes a stored session only if it still holds exactly the bytes the caller read: used to drop
  a value that cannot be decoded (onCorrupt: 'delete') without ever deleting a good session that a
  concurrent request wrote after the bad one was read.

  KEYS[1]  string mode: the session key; hash mode: the bucket hash
  ARGV[1]  the bytes that were read
  ARGV[2]  hash mode: the session's field (absent in string mode)

  Returns 1 when deleted, 0 when the value changed or went away meanwhile.
]]
if ARGV[2] then
  if redis.call('HGET', KEYS[1], ARGV[2]) == ARGV[1] then
    redis.call('HDEL', KEYS[1], ARGV[2])
    return 1
  end
  return 0
end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('UNLINK', KEYS[1])
  return 1
end
return 0
