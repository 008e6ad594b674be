-- bench/taskd/run.sh, case put: every request is
--   PUT /kv/k<run>-<thread>-<n>  Content-Type: application/octet-stream  <100 bytes>
-- with a key no other request writes: <run> is the script's argument (`wrk ... -- RUN`; run.sh
-- passes one per wrk run, so the warm-up and the measured run write different keys), or 8 random
-- hex digits from /dev/urandom without one; <thread> is wrk's thread number (setup() runs once
-- per thread); <n> counts the thread's requests (a thread's connections share its Lua state, so
-- the counter is unique over them).
local threads = 0

function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

local prefix
local n = 0
local body = string.rep("v", 100)
local headers = { ["Content-Type"] = "application/octet-stream" }

local function random_hex()
  local f = io.open("/dev/urandom", "rb")
  if not f then
    math.randomseed(os.time())
    return string.format("%08x", math.random(0, 0x7fffffff))
  end
  local b = f:read(4)
  f:close()
  return string.format("%02x%02x%02x%02x", b:byte(1, 4))
end

function init(args)
  local run = args[1] or random_hex()
  prefix = "/kv/k" .. run .. "-" .. (tid or 0) .. "-"
end

function request()
  n = n + 1
  return wrk.format("PUT", prefix .. n, headers, body)
end
