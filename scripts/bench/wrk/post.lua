-- wrk script for `make bench` (scripts/bench/wrk.py runs it): every request is the same
-- POST, taken from the environment so the Python side decides it:
--   WRK_METHOD   HTTP method (default POST)
--   WRK_BODY     path of a file holding the request body (default: no body)
--   WRK_HEADERS  headers, one "Name: value" per line (e.g. the bearer token)
-- Each thread counts the answers by status class; done() sums them over the threads and
-- prints one JSON line, prefixed "WRK_JSON ", with the latency percentiles (microseconds),
-- the request count and every kind of error, non-2xx answers included.

wrk.method = os.getenv("WRK_METHOD") or "POST"

local body_path = os.getenv("WRK_BODY")
if body_path and body_path ~= "" then
   local file = assert(io.open(body_path, "rb"))
   wrk.body = file:read("*a")
   file:close()
end

for line in string.gmatch(os.getenv("WRK_HEADERS") or "", "[^\n]+") do
   local name, value = string.match(line, "^%s*([^:]+):%s*(.-)%s*$")
   if name then
      wrk.headers[name] = value
   end
end

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

-- Per thread (each has its own Lua state): answers by status class.
ok, non2xx, first_bad = 0, 0, 0

function response(status, headers, body)
   if status >= 200 and status < 300 then
      ok = ok + 1
   else
      non2xx = non2xx + 1
      if first_bad == 0 then
         first_bad = status
      end
   end
end

function done(summary, latency, requests)
   local total_ok, total_non2xx, bad = 0, 0, 0
   for _, thread in ipairs(threads) do
      total_ok = total_ok + thread:get("ok")
      total_non2xx = total_non2xx + thread:get("non2xx")
      if bad == 0 then
         bad = thread:get("first_bad")
      end
   end
   local e = summary.errors
   io.write(string.format(
      'WRK_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "ok": %d, "non2xx": %d, ' ..
      '"first_non2xx_status": %d, "errors": {"connect": %d, "read": %d, "write": %d, ' ..
      '"status": %d, "timeout": %d}, "latency_us": {"min": %d, "mean": %.1f, "stdev": %.1f, ' ..
      '"p50": %d, "p90": %d, "p99": %d, "p999": %d, "max": %d}}\n',
      summary.requests, summary.duration, summary.bytes, total_ok, total_non2xx, bad,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency.min, latency.mean, latency.stdev, latency:percentile(50),
      latency:percentile(90), latency:percentile(99), latency:percentile(99.9), latency.max))
end
