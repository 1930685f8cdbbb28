-- wrk script: send Okta's user (POST to /Users, or PUT to /Users/<id> with
-- BENCH_METHOD=PUT) and count every answer that is not 201. BENCH_BODY
-- names the body file, BENCH_TOKEN the bearer token, BENCH_RESULT where
-- done() writes the figures as JSON.
local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
wrk.method = os.getenv("BENCH_METHOD") or "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/scim+json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")

local counters = {}

-- A PUT goes to a different id each time (`<path>-<n>`), as an IdP's
-- updates do: one resource written over and over would only measure the
-- gateway's one-writer-per-resource lock.
if wrk.method == "PUT" then
  local n = 0
  request = function()
    n = n + 1
    return wrk.format(nil, wrk.path .. "-" .. n)
  end
end

function setup(thread)
  table.insert(counters, thread)
end

function init(args)
  non_201 = 0
end

function response(status, headers, body)
  if status ~= 201 then
    non_201 = non_201 + 1
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(counters) do
    bad = bad + t:get("non_201")
  end
  local e = summary.errors
  local out = assert(io.open(os.getenv("BENCH_RESULT"), "w"))
  out:write(string.format(
    '{"requests": %d, "seconds": %.6f, "rps": %.1f, "p50_us": %d, "p90_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "non_201": %d, "errors": %d}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, bad,
    e.connect + e.read + e.write + e.timeout))
  out:close()
end
