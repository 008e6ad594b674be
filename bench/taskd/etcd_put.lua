-- bench/taskd/etcd.py, case "etcd direct": every request is etcd's JSON gateway put
--   POST /v3/kv/put  {"key":"<base64 of /bench/k<run>-<thread>-<n>>","value":"<base64 of 100 bytes>"}
-- a key no other request writes (as put_kv.lua: <run> from the script's argument, <thread> from
-- setup(), <n> counts the thread's requests). One put is one Raft proposal.
local threads = 0

function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function b64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local chunk = {}
    for k = 3, 0, -1 do
      local idx = math.floor(n / 64 ^ k) % 64
      chunk[#chunk + 1] = alphabet:sub(idx + 1, idx + 1)
    end
    if not b then chunk[3], chunk[4] = "=", "=" elseif not c then chunk[4] = "=" end
    out[#out + 1] = table.concat(chunk)
  end
  return table.concat(out)
end

local prefix
local n = 0
local value = b64(string.rep("v", 100))
local headers = { ["Content-Type"] = "application/json" }

function init(args)
  prefix = "/bench/k" .. (args[1] or tostring(os.time())) .. "-" .. (tid or 0) .. "-"
end

function request()
  n = n + 1
  local body = '{"key":"' .. b64(prefix .. n) .. '","value":"' .. value .. '"}'
  return wrk.format("POST", "/v3/kv/put", headers, body)
end
