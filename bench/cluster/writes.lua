-- wrk script of the fault run: numbered writes, each number once. Every
-- BENCH_POST_EVERY-th request is a POST to /Users (0: none), the others
-- PUTs of one of BENCH_RESOURCES users, so that the replicas contend for
-- the same resources' leases. The number goes in the query (`w`), the
-- upstream answers it back as the id; done() writes what came back.
local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
local body = f:read("*a")
f:close()
local prefix = os.getenv("BENCH_PREFIX")
local post_every = tonumber(os.getenv("BENCH_POST_EVERY") or "0")
local resources = tonumber(os.getenv("BENCH_RESOURCES") or "20")
wrk.headers["Content-Type"] = "application/scim+json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
wrk.body = body

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  n = 0
  ok = {}
  statuses = {}
  math.randomseed(os.time() + id)
end

request = function()
  n = n + 1
  local w = prefix .. "." .. id .. "." .. n
  if post_every > 0 and n % post_every == 0 then
    return wrk.format("POST", "/scim/v2/Users?w=" .. w)
  end
  return wrk.format("PUT", "/scim/v2/Users/r" .. math.random(0, resources - 1) .. "?w=" .. w)
end

function response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
  if status >= 200 and status < 300 then
    ok[#ok + 1] = body:match('"id":"([^"]+)"') or "?"
  end
end

function done(summary, latency, requests)
  local out = assert(io.open(os.getenv("BENCH_RESULT"), "w"))
  local e = summary.errors
  out:write(string.format(
    '{"requests": %d, "seconds": %.6f, "p50_us": %d, "p99_us": %d, "connect": %d, "read": %d, ' ..
    '"write": %d, "timeout": %d, "statuses": {',
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.timeout))
  local merged, first = {}, true
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("statuses")) do
      merged[k] = (merged[k] or 0) + v
    end
  end
  for k, v in pairs(merged) do
    out:write(string.format('%s"%s": %d', first and "" or ", ", k, v))
    first = false
  end
  out:write('}, "ok": [')
  first = true
  for _, t in ipairs(threads) do
    for _, w in ipairs(t:get("ok")) do
      out:write(string.format('%s"%s"', first and "" or ", ", w))
      first = false
    end
  end
  out:write("]}\n")
  out:close()
end
