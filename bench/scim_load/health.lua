dofile(os.getenv("LUA_DIR") .. "/report.lua")
-- GET /healthz: the reference (what the HTTP stack alone costs), measured in the same run.
function request()
  return wrk.format("GET", "/healthz")
end
