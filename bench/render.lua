-- wrk script: POST /api/v1/prompts/bench-NNNNN/render with four variables (two defaulted).
local count = tonumber(os.getenv("OPM_BENCH_PROMPTS") or "1000")
local key = os.getenv("OPM_BENCH_KEY")
local body = '{"label":"production","variables":{"customer":"Ada","product":"OPM"}}'
math.randomseed(7)
request = function()
  local path = string.format("/api/v1/prompts/bench-%05d/render", math.random(0, count - 1))
  return wrk.format("POST", path, { ["authorization"] = "Bearer " .. key, ["content-type"] = "application/json" }, body)
end
