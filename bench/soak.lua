-- wrk script for the soak (bench/soak.py): a mix of echoscope's traffic, each connection
-- cycling through it, paced by a delay between requests.
--   wrk ... http://127.0.0.1:PORT/ -- DELAY_MS
-- done() prints the BENCH_RESULT line bench/wrk.py parses.

local delay_ms = 0
local counter = 0
local requests = {}

local function json_body(size)
  local head = '{"user":"soak","items":[1,2,3],"note":"'
  local tail = '"}'
  return head .. string.rep("x", size - #head - #tail) .. tail
end

function init(args)
  delay_ms = tonumber(args[1] or "0")
  local trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
  local json = {["Content-Type"] = "application/json", ["traceparent"] = trace}
  local form = {["Content-Type"] = "application/x-www-form-urlencoded"}
  requests = {
    wrk.format("GET", "/anything?soak=1&token=secret", {["traceparent"] = trace,
      ["Cookie"] = "session=6f1c2a9e; theme=dark"}),
    wrk.format("POST", "/anything", json, json_body(1024)),
    wrk.format("GET", "/stream/5"),
    wrk.format("POST", "/post", form, "a=1&b=two&c=%C3%A9"),
    wrk.format("GET", "/status/201"),
    wrk.format("GET", "/get?x=1"),
    wrk.format("PUT", "/anything/orders/7", json, json_body(8192)),
    wrk.format("GET", "/drip?numbytes=64&duration=0.05&delay=0"),
  }
end

function request()
  counter = counter + 1
  return requests[(counter % #requests) + 1]
end

function delay()
  return delay_ms
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "bytes": %d, '
      .. '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d, '
      .. '"p50_us": %.1f, "p90_us": %.1f, "p99_us": %.1f, "max_us": %.1f}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max
  ))
end
