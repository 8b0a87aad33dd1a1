-- PATCH /Users/{id}: replace the title of a random seeded user.
package.path = os.getenv("LUA_DIR") .. "/?.lua;" .. package.path
local c = require("common")
dofile(os.getenv("LUA_DIR") .. "/report.lua")
setup = c.setup
local ids
local n = 0

function init(args)
  ids = c.read_lines(os.getenv("IDS_FILE"))
  math.randomseed(seed)
end

function request()
  n = n + 1
  local body = '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],'
    .. '"Operations":[{"op":"replace","path":"title","value":"T' .. n .. '"}]}'
  return wrk.format("PATCH", c.base .. "/Users/" .. ids[math.random(#ids)], c.headers(), body)
end
