-- pipeline.lua: wrk sends each connection's requests in batches of `depth` (HTTP/1.1 pipelining),
-- for scripts/bench. wrk counts every answer; its latency figures are per batch.
--   wrk -s benchmarks/pipeline.lua URL -- 16
local depth = 16
local batch

init = function(args)
    depth = tonumber(args[1]) or depth
    local one = wrk.format("GET")
    batch = string.rep(one, depth)
end

request = function()
    return batch
end
