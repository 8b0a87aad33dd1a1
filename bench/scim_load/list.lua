-- GET /Users?startIndex=<random>&count=100: a page of the list.
package.path = os.getenv("LUA_DIR") .. "/?.lua;" .. package.path
local c = require("common")
dofile(os.getenv("LUA_DIR") .. "/report.lua")
setup = c.setup
local total

function init(args)
  total = tonumber(os.getenv("USER_COUNT"))
  math.randomseed(seed)
end

function request()
  local start = math.random(math.max(1, total - 100))
  return wrk.format("GET", c.base .. "/Users?count=100&startIndex=" .. start, c.headers())
end
