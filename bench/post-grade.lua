-- wrk script: POST a random valid grade each request (random carnet, course, nota, term).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
math.randomseed(os.time() + math.floor(os.clock() * 1e6))
local courses = {"SO1", "BD1", "LFP", "SA", "AYD1"}
request = function()
  local carnet = math.random(1, 50000)
  local body = string.format('{"carnet": %d, "nombre": "Alumno %d", "curso": "%s", "nota": %d, "semestre": "%s", "year": %d}',
    carnet, carnet, courses[math.random(1, 5)], math.random(0, 100), (math.random(1, 2) == 1) and "1S" or "2S", math.random(2018, 2024))
  return wrk.format(nil, nil, nil, body)
end
