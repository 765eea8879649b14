-- bench/load.lua - wrk script for bench/load.sh: a mix of health checks,
-- model metadata, single-image predictions and weight downloads against
-- one model (MODEL in the environment), counting answers by status class.
local model = os.getenv("MODEL")
local image = string.rep("\0", 784)
local mix = {
  {"GET", "/v2/health/ready", nil, nil},
  {"GET", "/v2/models/" .. model, nil, nil},
  {"GET", "/v1/models/" .. model, nil, nil},
  {"POST", "/v1/models/" .. model .. "/predict?top_k=3", {["Content-Type"] = "application/x-u8"}, image},
  {"GET", "/v1/models/" .. model .. "/weights?dtype=f16", nil, nil},
  {"GET", "/metrics", nil, nil},
}
counts, threads = {}, {}  -- globals: wrk reads counts from each thread
local i = 0

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  counts = {c2 = 0, c3 = 0, c4 = 0, c5 = 0}
  i = id
end

function request()
  i = i + 1
  local m = mix[(i % #mix) + 1]
  return wrk.format(m[1], m[2], m[3], m[4])
end

function response(status, headers, body)
  local k = "c" .. math.floor(status / 100)
  counts[k] = (counts[k] or 0) + 1
end

function done(summary, latency, requests)
  local t = {c2 = 0, c3 = 0, c4 = 0, c5 = 0}
  for _, thread in ipairs(threads) do
    local c = thread:get("counts")
    for k, v in pairs(c) do t[k] = (t[k] or 0) + v end
  end
  io.write(string.format("JSON {\"requests\":%d,\"seconds\":%.1f,\"rps\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,"
    .. "\"max_ms\":%.3f,\"s2xx\":%d,\"s3xx\":%d,\"s4xx\":%d,\"s5xx\":%d,\"socket_errors\":%d}\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1e3, latency:percentile(99) / 1e3, latency.max / 1e3,
    t.c2, t.c3, t.c4, t.c5,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
