-- wrk script: GET /ui/prompts/bench-NNNNN (a prompt's overview page: four API calls in process,
-- HTML rendered) with a signed-in session cookie.
local count = tonumber(os.getenv("OPM_BENCH_PROMPTS") or "1000")
local cookie = os.getenv("OPM_BENCH_COOKIE")
math.randomseed(42)
request = function()
  local path = string.format("/ui/prompts/bench-%05d", math.random(0, count - 1))
  return wrk.format("GET", path, { ["cookie"] = "opm_session=" .. cookie })
end
