-- wrk script (closed loop): POST a random valid grade each request, with the payload realism of
-- the Locust generator: a pool of POOL students (default 500) with stable names, the five
-- courses, both semesters, years 2019-2025, numbers sent as numeric strings in STRING_RATIO of
-- requests (0.3), an Idempotency-Key in KEY_RATIO of them (0.1).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local pool = tonumber(os.getenv("POOL") or "500")
local string_ratio = tonumber(os.getenv("STRING_RATIO") or "0.3")
local key_ratio = tonumber(os.getenv("KEY_RATIO") or "0.1")
local courses = {"SO1", "BD1", "LFP", "SA", "AYD1"}
local thread_id, sequence = 0, 0

setup = function(thread)
  thread_id = thread_id + 1
  thread:set("id", thread_id)
end

init = function()
  math.randomseed(os.time() * 1000 + (id or 0))
end

request = function()
  local i = math.random(1, pool)
  local q = (math.random() < string_ratio) and '"' or ''
  local body = string.format('{"carnet": %s%d%s, "nombre": "Alumno %d", "curso": "%s", "nota": %s%d%s, "semestre": "%s", "year": %s%d%s}',
    q, 201900000 + i, q, i, courses[math.random(1, 5)], q, math.random(0, 100), q,
    (math.random(1, 2) == 1) and "1S" or "2S", q, math.random(2019, 2025), q)
  local headers = nil
  if math.random() < key_ratio then
    sequence = sequence + 1
    -- A headers table replaces wrk.headers, so it carries the content type too.
    headers = {["Content-Type"] = "application/json",
               ["Idempotency-Key"] = string.format("wrk-%d-%d-%d", os.time(), id or 0, sequence)}
  end
  return wrk.format(nil, nil, headers, body)
end
