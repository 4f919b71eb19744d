-- wrk script for `bun run bench`: optional request shaping from the environment, and one
-- JSON line with oha-like fields (seconds) after wrk's own report.
--   BENCH_METHOD=POST  BENCH_BODY_BYTES=4096  BENCH_UNIQUE=<a token of the run> (a new path per request, in this run and any other)
--   BENCH_DELAY_MS=5 (each connection waits 5 ms between its requests: a set offered rate)
-- usage: wrk -t2 -c64 -d10s --latency -s wrk-json.lua URL | tail -n1
local method = os.getenv("BENCH_METHOD")
local bodyBytes = tonumber(os.getenv("BENCH_BODY_BYTES") or "0")
local unique = os.getenv("BENCH_UNIQUE")
if unique == "" then unique = nil end
local delayMs = tonumber(os.getenv("BENCH_DELAY_MS") or "0")

if method then wrk.method = method end
if bodyBytes > 0 then
  wrk.body = string.rep("x", bodyBytes)
  wrk.headers["Content-Type"] = "application/octet-stream"
end

local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

if delayMs > 0 then
  delay = function() return delayMs end
end

if unique then
  local counter = 0
  request = function()
    counter = counter + 1
    return wrk.format(nil, wrk.path .. "-" .. unique .. "-" .. tid .. "-" .. counter)
  end
end

done = function(summary, latency, requests)
  local secs = summary.duration / 1e6                       -- wrk durations/latencies are microseconds
  local e = summary.errors
  local sockErr = e.connect + e.read + e.write + e.timeout
  local function p(q) return latency:percentile(q) / 1e6 end
  io.write(string.format(
    '{"tool":"wrk","summary":{"total":%.6f,"requestsPerSec":%.2f,"average":%.6f,"slowest":%.6f,"fastest":%.6f,"totalData":%d},' ..
    '"latencyPercentiles":{"p50":%.6f,"p90":%.6f,"p99":%.6f,"p99.9":%.6f},' ..
    '"requests":%d,"httpStatusGte400":%d,"errorDistribution":{"connect":%d,"read":%d,"write":%d,"timeout":%d},"socketErrors":%d}\n',
    secs, summary.requests / secs, latency.mean / 1e6, latency.max / 1e6, latency.min / 1e6, summary.bytes,
    p(50), p(90), p(99), p(99.9),
    summary.requests, e.status, e.connect, e.read, e.write, e.timeout, sockErr))
end
