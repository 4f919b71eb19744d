-- usage: wrk -t2 -c64 -d10s --latency -s wrk-json.lua URL | tail -n1
-- Prints one JSON line with oha-like fields (seconds) after wrk's own report.
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
