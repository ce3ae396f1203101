-- wrk script for bench/scale.sh: GET /api/v1/prompts/PREFIX-NNNNNN/resolve?label=production.
--   OPM_BENCH_PASS=warm (default): uniformly random prompts for the whole run (-d).
--   OPM_BENCH_PASS=cold: one pass over every prompt in order (the first request for a prompt loads
--     it from the database), then wrk stops itself and prints "cold pass: N answered in S s", the
--     span from the first request to the last response.
-- Run with one thread (-t1): the pass counter lives in the thread.
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } opm_timespec;
int clock_gettime(int clock, opm_timespec *now);
int getpid(void);
int tgkill(int tgid, int tid, int sig);
]]
local count = tonumber(os.getenv("OPM_BENCH_PROMPTS") or "10")
local key = os.getenv("OPM_BENCH_KEY")
local prefix = os.getenv("OPM_BENCH_PREFIX") or "bench"
local cold = os.getenv("OPM_BENCH_PASS") == "cold"
local headers = { ["authorization"] = "Bearer " .. (key or "") }
sent, released, answered = 0, 0, 0
-- The pass's own span (first request built → last response), in seconds: wrk's runtime rounds up
-- to its 100 ms stop check.
first_at, last_at = nil, nil
local timespec = ffi.new("opm_timespec")
local function now()
  ffi.C.clock_gettime(1, timespec) -- CLOCK_MONOTONIC
  return tonumber(timespec.tv_sec) + tonumber(timespec.tv_nsec) / 1e9
end
local threads = {}
math.randomseed(42)

local function path(index)
  return string.format("/api/v1/prompts/%s-%06d/resolve?label=production", prefix, index)
end

-- SIGINT to wrk's main thread ends its sleep: wrk then joins the threads and reports at once.
local function finish()
  local pid = ffi.C.getpid()
  ffi.C.tgkill(pid, pid, 2)
end

if cold then
  -- wrk calls delay() before each request a connection sends, and also calls request() once when a
  -- thread starts without sending it: counting releases here keeps the pass exact.
  delay = function()
    if released >= count then
      if answered >= count then finish() end
      return 3600000
    end
    released = released + 1
    return 0
  end
  request = function()
    if sent >= released then return wrk.format("GET", path(0), headers) end
    local index = sent
    sent = sent + 1
    first_at = first_at or now()
    return wrk.format("GET", path(index), headers)
  end
  response = function()
    answered = answered + 1
    last_at = now()
    if answered >= count then finish() end
  end
  setup = function(thread) table.insert(threads, thread) end
  done = function()
    for _, thread in ipairs(threads) do
      local first, last = thread:get("first_at"), thread:get("last_at")
      if first and last then print(string.format("cold pass: %d answered in %.6f s", thread:get("answered"), last - first)) end
    end
  end
else
  request = function()
    return wrk.format("GET", path(math.random(0, count - 1)), headers)
  end
end
