-- Shared by the SCIM load scripts: the token, the ids seeded into the organization, and a
-- per-thread random generator. Paths come from the environment set by bench/scim_load/run.
local M = {}

M.token = os.getenv("SCIM_TOKEN")
M.base = os.getenv("SCIM_BASE_PATH") or "/scim/v2"

function M.read_lines(path)
  local lines = {}
  for line in io.lines(path) do
    lines[#lines + 1] = line
  end
  return lines
end

local headers
function M.headers()
  headers = headers or {
    ["Authorization"] = "Bearer " .. M.token,
    ["Content-Type"] = "application/scim+json",
  }
  return headers
end

-- Gives each wrk thread its own random seed.
local threads = 0
function M.setup(thread)
  threads = threads + 1
  thread:set("seed", os.time() * 100 + threads)
end

return M
