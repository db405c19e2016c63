-- spec/embed_spec.lua -- the C embedding API (lua/embed.c, limpet/limpet.h)
-- through examples/embed/host: a C program opens a state, runs Lua that
-- builds a tensor and reads it back through the core accessors.
local build = os.getenv("LIMPET_BUILD") or "build/release"
local root = os.getenv("PWD") or "."
local host = (build:sub(1, 1) == "/" and build or root .. "/" .. build) .. "/examples/embed/host"

local function sh_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function run(cwd, env)
  local p = io.popen(("cd %s && %s %s 2>&1"):format(sh_quote(cwd), env or "", sh_quote(host)))
  local out = p:read("a")
  local _, _, code = p:close()
  return out, code
end

describe("embedding limpet in a C host", function()
  it("builds the host example", function()
    local f = io.open(host)
    assert.is_not_nil(f, "missing " .. host)
    f:close()
  end)

  it("reads a tensor made in Lua back into C", function()
    local out, code = run(root)
    assert.equals(0, code)
    assert.matches("tensor int64, shape (2, 3): 0 2 4 6 8 10\n", out, 1, true)
  end)

  it("hands a C tensor to Lua and reports errors with a traceback", function()
    local out = run(root)
    assert.matches("from C: x:get(4) = 4.5, dtype float64, #x = 4\n", out, 1, true)
    assert.matches("error reported: yes\nok\n$", out)
  end)

  it("finds limpet's modules from another folder with no environment", function()
    local out, code = run("/tmp", "env -i")
    assert.equals(0, code)
    assert.matches("ok\n$", out)
  end)

  it("takes LIMPET_ROOT when it holds limpet, and falls back when not", function()
    local out, code = run("/tmp", "env -i LIMPET_ROOT=" .. sh_quote(root))
    assert.equals(0, code, out)
    out, code = run("/tmp", "env -i LIMPET_ROOT=/nonexistent")
    assert.equals(0, code, out)
  end)
end)
