-- wrk script: GET /api/v1/prompts/bench-NNNNN/resolve?label=canary&key=user-M: the `canary` label is
-- a 50/50 sticky split, so every request hashes its key (MurmurHash3) to pick an arm.
local count = tonumber(os.getenv("OPM_BENCH_PROMPTS") or "1000")
local key = os.getenv("OPM_BENCH_KEY")
math.randomseed(43)
request = function()
  local path = string.format("/api/v1/prompts/bench-%05d/resolve?label=canary&key=user-%d",
    math.random(0, count - 1), math.random(0, 99999))
  return wrk.format("GET", path, { ["authorization"] = "Bearer " .. key })
end
