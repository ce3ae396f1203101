-- wrk script: GET /api/v1/prompts/bench-NNNNN/resolve?label=production across the seeded prompts.
local count = tonumber(os.getenv("OPM_BENCH_PROMPTS") or "1000")
local key = os.getenv("OPM_BENCH_KEY")
math.randomseed(42)
request = function()
  local path = string.format("/api/v1/prompts/bench-%05d/resolve?label=production", math.random(0, count - 1))
  return wrk.format("GET", path, { ["authorization"] = "Bearer " .. key })
end
