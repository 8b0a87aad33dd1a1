-- GET /Users/{id} for a random seeded user.
package.path = os.getenv("LUA_DIR") .. "/?.lua;" .. package.path
local c = require("common")
dofile(os.getenv("LUA_DIR") .. "/report.lua")
setup = c.setup
local ids

function init(args)
  ids = c.read_lines(os.getenv("IDS_FILE"))
  math.randomseed(seed)
end

function request()
  return wrk.format("GET", c.base .. "/Users/" .. ids[math.random(#ids)], c.headers())
end
