-- wrk script for the Cloud Run profile: request.lua's requests, each carrying a traceparent
-- as Cloud Run's front end sends it, with the sampled flag set on 1 request in N:
--   wrk ... -s bench/cloudrun.lua URL -- get 100     (N = 0: never sampled)
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "request.lua")

local every = 100
local counter = 0
local trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-"
local kind_init = init

function init(args)
  kind_init(args)
  for _, arg in pairs(args) do
    if tonumber(arg) then
      every = tonumber(arg)
    end
  end
end

function request()
  counter = counter + 1
  local sampled = every > 0 and counter % every == 0
  wrk.headers["traceparent"] = trace .. (sampled and "01" or "00")
  return wrk.format()
end
