-- GET /Users?filter=userName eq "<random seeded name>"
package.path = os.getenv("LUA_DIR") .. "/?.lua;" .. package.path
local c = require("common")
dofile(os.getenv("LUA_DIR") .. "/report.lua")
setup = c.setup
local names

function init(args)
  names = c.read_lines(os.getenv("NAMES_FILE"))
  math.randomseed(seed)
end

function request()
  local name = names[math.random(#names)]
  local path = c.base .. "/Users?filter=userName%20eq%20%22" .. name .. "%22"
  return wrk.format("GET", path, c.headers())
end
