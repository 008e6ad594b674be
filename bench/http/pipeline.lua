-- wrk script: HTTP/1.1 pipelining, TechEmpower "plaintext" style. Every write carries DEPTH
-- requests (default 16) built with wrk.format() (GET of the URL's path, with wrk's Host
-- header); wrk sends the next batch on a connection once all DEPTH responses came back, and
-- counts every response as one request.
--   wrk -t1 -c256 -d10 -s bench/http/pipeline.lua http://127.0.0.1:PORT/ -- 16
init = function(args)
  local depth = tonumber(args[1]) or 16
  local r = {}
  for i = 1, depth do
    r[i] = wrk.format()
  end
  req = table.concat(r)
end

request = function()
  return req
end
