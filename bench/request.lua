-- wrk script for the echoscope benchmark. One request kind per run, named after "--":
--   wrk ... http://127.0.0.1:PORT/anything -- get    browser-like GET with a cookie and a traceparent
--   wrk ... http://127.0.0.1:PORT/anything -- post   POST of a 1 KiB JSON body
-- done() prints one line "BENCH_RESULT {json}" that bench/wrk.py parses.

local function json_body(size)
  local head = '{"user":"bench","items":[1,2,3,4,5],"note":"'
  local tail = '"}'
  return head .. string.rep("x", size - #head - #tail) .. tail
end

local kinds = {
  get = function()
    wrk.method = "GET"
    wrk.headers["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
      .. "(KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
    wrk.headers["Accept"] = "text/html,application/xhtml+xml,application/xml;q=0.9,"
      .. "image/avif,image/webp,*/*;q=0.8"
    wrk.headers["Accept-Language"] = "en-GB,en;q=0.9,fr;q=0.8"
    wrk.headers["Accept-Encoding"] = "gzip, deflate, br"
    wrk.headers["Cookie"] = "session=6f1c2a9e0d7b4c3a; theme=dark; consent=yes"
    wrk.headers["traceparent"] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
  end,
  post = function()
    wrk.method = "POST"
    wrk.headers["User-Agent"] = "bench-client/1.0"
    wrk.headers["Accept"] = "application/json"
    wrk.headers["Content-Type"] = "application/json"
    wrk.body = json_body(1024)
  end,
}

function init(args)
  for _, arg in pairs(args) do
    if kinds[arg] then
      kinds[arg]()
      return
    end
  end
  error("request.lua: pass the request kind after '--': get or post")
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
