-- Adds the headers of env BENCH_HEADERS ("name: value" lines) to every request, and prints
-- wrk's summary as one JSON line (after wrk's own text) for bench/lib/load.js.
local lines = os.getenv("BENCH_HEADERS")
if lines then
  for name, value in string.gmatch(lines, "([^:\n]+): ([^\n]*)") do
    wrk.headers[name] = value
  end
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\nWRK_JSON {"requests":%d,"durationUs":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50Us":%d,"p99Us":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
