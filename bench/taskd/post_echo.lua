-- bench/taskd/run.sh, cases c50 / c256: every request is
--   POST /echo  Content-Type: application/json  {"kind":"create","message":"hello world"}
-- (the story's echo task; the answer is 200 text/plain `SUCCESS create "hello world"`).
-- wrk formats the request once (wrk.method/body/headers): no Lua runs per request.
wrk.method = "POST"
wrk.path = "/echo"
wrk.body = '{"kind":"create","message":"hello world"}'
wrk.headers["Content-Type"] = "application/json"
