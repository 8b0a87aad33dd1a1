-- POST /Users with a name no other request uses (thread tag + counter).
package.path = os.getenv("LUA_DIR") .. "/?.lua;" .. package.path
local c = require("common")
dofile(os.getenv("LUA_DIR") .. "/report.lua")
local counter = 0
local threads = 0

-- Each thread gets its own tag, so names never collide across threads or runs.
function setup(thread)
  threads = threads + 1
  thread:set("tag", os.getenv("RUN_TAG") .. "-" .. threads)
end

function request()
  counter = counter + 1
  local name = tag .. "-" .. counter .. "@load.example"
  local body = '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"' .. name
    .. '","name":{"givenName":"Load","familyName":"Test"},'
    .. '"emails":[{"value":"' .. name .. '","type":"work","primary":true}],"active":true}'
  return wrk.format("POST", c.base .. "/Users", c.headers(), body)
end
