--[[
  A session's entry in its owner's index (src/users/user-index.ts): field = the session's binary
  key, value "<created ms>:<expiry ms>", or "r:<expiry ms>" once destroyUser revoked it. The field
  '' holds the fence "f:<stamp ms>:<until ms>": destroyUser refuses every write of this owner that
  started at or before the stamp, until `until`.
]]

-- Whether the owner's index accepts a write of this session that started at `started`; and the
-- entry. No index (`idx` nil: a session without an owner, or a cluster's two-step save) accepts.
local function entry_allows(idx, field, started)
  if not idx then
    return true, nil
  end
  local fence = redis.call('HGET', idx, '')
  if fence then
    local stamp = tonumber(string.match(fence, '^f:(%d+):'))
    if stamp and started <= stamp then
      return false
    end
  end
  local old = redis.call('HGET', idx, field)
  if old and string.sub(old, 1, 2) == 'r:' then
    return false
  end
  return true, old
end

--[[
  Records the session's expiry in the entry: exactly (`exact`: written in the same atomic step as
  the session), or never lowering it (a cluster, where the session sits on another node and a
  concurrent write may have raised it). Keeps the index alive at least `ttl` ms, and drops a few
  entries whose expiry is more than `grace` ms past.
]]
local function entry_put(idx, field, old, now, expiry, ttl, exact, grace)
  local created = now
  if old then
    created = tonumber(string.match(old, '^(%d+):')) or now
    if not exact then
      local prev = tonumber(string.match(old, ':(%d+)$'))
      if prev and prev > expiry then
        expiry = prev
      end
    end
  end
  redis.call('HSET', idx, field, created .. ':' .. expiry)
  keep_bucket(idx, ttl)
  local sample = redis.call('HRANDFIELD', idx, 8, 'WITHVALUES')
  local dead = {}
  for i = 1, #sample, 2 do
    local at = tonumber(string.match(sample[i + 1], ':(%d+)$'))
    if at and at + grace <= now then
      dead[#dead + 1] = sample[i]
    end
  end
  if #dead > 0 then
    redis.call('HDEL', idx, unpack(dead))
  end
end
