-- wrk script for bench/writes.sh: real writes for OPM_BENCH_SECONDS, round-robin over the prompts
-- OPM_BENCH_PREFIX-0000 … (OPM_BENCH_PROMPTS of them):
--   OPM_BENCH_MODE=versions: POST /api/v1/prompts/NAME/versions, every body distinct (run id and
--     sequence number in the system message), so every 2xx is a new version;
--   OPM_BENCH_MODE=labels: PUT /api/v1/prompts/NAME/labels/production, alternating each prompt
--     between versions 2 and 1 (seeded on 1), so every call moves the label.
-- After the deadline no connection sends again; once every request sent is answered, wrk stops
-- itself (so no write is left in flight, and the server's count can be compared with ours) and
-- prints one line: "writes: sent=… answered=… ok=… non2xx=… socket_errors=… seconds=… p50_ms=… p99_ms=… mean_ms=…".
-- Run with one thread (-t1).
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } opm_timespec;
int clock_gettime(int clock, opm_timespec *now);
int getpid(void);
int tgkill(int tgid, int tid, int sig);
]]
local key = os.getenv("OPM_BENCH_KEY") or ""
local mode = os.getenv("OPM_BENCH_MODE") or "versions"
local prefix = os.getenv("OPM_BENCH_PREFIX") or "bench"
local count = tonumber(os.getenv("OPM_BENCH_PROMPTS") or "1")
local seconds = tonumber(os.getenv("OPM_BENCH_SECONDS") or "2")
local run = os.getenv("OPM_BENCH_RUN") or "run"
local headers = { ["authorization"] = "Bearer " .. key, ["content-type"] = "application/json" }

sent, released, answered, ok, non2xx = 0, 0, 0, 0, 0
first_at, last_at = nil, nil
local started, stopping = nil, false
local label_version = {}
local threads = {}

local timespec = ffi.new("opm_timespec")
local function now()
  ffi.C.clock_gettime(1, timespec) -- CLOCK_MONOTONIC
  return tonumber(timespec.tv_sec) + tonumber(timespec.tv_nsec) / 1e9
end

-- SIGINT to wrk's main thread ends its sleep: wrk then joins the threads and reports at once.
local function finish()
  local pid = ffi.C.getpid()
  ffi.C.tgkill(pid, pid, 2)
end

local function version_body(sequence)
  return string.format([[{"content": {"type": "chat", "messages": [
{"role": "system", "content": "You are the support assistant for {{ product }}. Answer in {{ language }}, in at most {{ max_words }} words (bench %s, write %d)."},
{"role": "user", "content": "Hello, I am {{ customer }} and I have a question about {{ product }}."}],
"variables": {"customer": {"type": "string"}, "product": {"type": "string"},
"language": {"type": "string", "default": "English"}, "max_words": {"type": "number", "default": 120}},
"model": {"provider": "openai", "model": "gpt-4o-mini", "parameters": {"temperature": 0.2, "max_tokens": 300}}},
"message": "bench write %d"}]], run, sequence, sequence)
end

-- wrk calls delay() before every request a connection sends (and request() once at thread start
-- without sending it): releases counted here are the requests really sent.
delay = function()
  local time = now()
  started = started or time
  if stopping or time - started >= seconds then
    stopping = true
    if answered >= released then finish() end
    return 3600000
  end
  released = released + 1
  return 0
end

request = function()
  if sent >= released then
    return wrk.format("GET", "/healthz")
  end
  local index = sent % count
  sent = sent + 1
  first_at = first_at or now()
  local name = string.format("%s-%04d", prefix, index)
  if mode == "labels" then
    local target = (label_version[index] == 2) and 1 or 2
    label_version[index] = target
    local body = string.format('{"version": %d, "reason": "bench move %d"}', target, sent)
    return wrk.format("PUT", "/api/v1/prompts/" .. name .. "/labels/production", headers, body)
  end
  return wrk.format("POST", "/api/v1/prompts/" .. name .. "/versions", headers, version_body(sent))
end

response = function(status)
  answered = answered + 1
  last_at = now()
  if status >= 200 and status < 300 then ok = ok + 1 else non2xx = non2xx + 1 end
  if stopping and answered >= released then finish() end
end

setup = function(thread)
  table.insert(threads, thread)
end

done = function(summary, latency)
  local errors = summary.errors
  local socket = errors.connect + errors.read + errors.write + errors.timeout
  for _, thread in ipairs(threads) do
    local first, last = thread:get("first_at"), thread:get("last_at")
    print(string.format("writes: sent=%d answered=%d ok=%d non2xx=%d socket_errors=%d seconds=%.6f p50_ms=%.3f p99_ms=%.3f mean_ms=%.3f",
      thread:get("sent"), thread:get("answered"), thread:get("ok"), thread:get("non2xx"), socket,
      (first and last) and (last - first) or 0, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
      latency.mean / 1000))
  end
end
