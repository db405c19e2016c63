-- spec/install_spec.lua -- `make install PREFIX=...` into a temporary
-- prefix, then the installed `limpet` and plain `lua5.4` both load limpet,
-- and the README's embedding command (`pkg-config --cflags --libs limpet`)
-- builds examples/embed/host.c, which then runs with no environment.
-- Skipped under the sanitizer build: a sanitized core.so cannot be loaded
-- into the plain lua5.4 interpreter.
local build = os.getenv("LIMPET_BUILD") or "build/release"
local cfg = build:match("build/(.+)$") or "release"
local sanitized = os.getenv("LIMPET_SANITIZED") == "1"

local function run(cmd)
  local f = io.popen(cmd .. " 2>&1", "r")
  local out = f:read("a")
  local ok, _, code = f:close()
  return out, ok and 0 or code
end

describe("make install", function()
  if sanitized then
    pending("skipped under sanitizers")
    return
  end
  local prefix
  setup(function()
    prefix = os.tmpname()
    os.remove(prefix)
    local out, code = run(("make --no-print-directory CFG=%s install PREFIX=%s"):format(cfg, prefix))
    assert.are.equal(0, code, out)
  end)
  teardown(function() run("rm -rf " .. prefix) end)

  it("installs every product", function()
    for _, p in ipairs { "bin/limpet", "lib/liblimpet.a", "lib/liblimpet.so", "lib/lua/5.4/limpet/core.so",
                         "include/limpet/core.h", "include/limpet/tensor.h", "include/limpet/limpet.h",
                         "lib/pkgconfig/limpet.pc", "share/lua/5.4/limpet/init.lua" } do
      local f = io.open(prefix .. "/" .. p, "rb")
      assert.is_not_nil(f, p .. " missing")
      f:close()
    end
    local pc = io.open(prefix .. "/lib/pkgconfig/limpet.pc"):read("a")
    assert.truthy(pc:find("prefix=" .. prefix, 1, true))
  end)

  it("runs the installed executable from another folder with no environment", function()
    local out, code = run(("cd / && env -i %s/bin/limpet -e 'local lp = require \"limpet\" print(lp.arange(3):sum():item())'"):format(prefix))
    assert.are.equal(0, code, out)
    assert.are.equal("3\n", out)
  end)

  it("lets plain lua5.4 require limpet", function()
    local cmd = ("cd / && env -i LUA_PATH='%s/share/lua/5.4/?.lua;%s/share/lua/5.4/?/init.lua' LUA_CPATH='%s/lib/lua/5.4/?.so' " ..
                 "lua5.4 -e 'local lp = require \"limpet\" print(lp.version, lp.ones(2, 2):sum():item())'"):format(prefix, prefix, prefix)
    local out, code = run(cmd)
    assert.are.equal(0, code, out)
    assert.are.equal("0.1.0\t4.0\n", out)
  end)

  it("builds and runs the embedding host with the README's command, as printed", function()
    -- the command line of the README's embedding block, taken verbatim
    local readme = assert(io.open("README.md")):read("a")
    local cmd
    for line in readme:gmatch("[^\n]+") do
      if line:find("pkg-config --cflags --libs limpet", 1, true) and line:match("^cc ") then cmd = line end
    end
    assert.is_not_nil(cmd, "README.md has no `cc ... $(pkg-config --cflags --libs limpet)` line")
    local dir = prefix .. "/hostbuild"
    local out, code = run(("mkdir -p %s/examples/embed && cp examples/embed/host.c %s/examples/embed/"):format(dir, dir))
    assert.are.equal(0, code, out)
    out, code = run(("cd %s && export PKG_CONFIG_PATH=%s/lib/pkgconfig && %s"):format(dir, prefix, cmd))
    assert.are.equal(0, code, cmd .. "\n" .. out)
    -- no LD_LIBRARY_PATH, no LIMPET_ROOT: the run path and the installed modules
    out, code = run(("cd / && env -i %s/host"):format(dir))
    assert.are.equal(0, code, out)
    assert.matches("ok\n$", out)
    -- the host links the installed shared library
    out = run(("ldd %s/host"):format(dir))
    assert.truthy(out:find(prefix .. "/lib/liblimpet.so", 1, true), out)
  end)

  it("builds a C program against the installed library with pkg-config", function()
    local src = prefix .. "/t.c"
    local f = io.open(src, "w")
    f:write([[
#include <limpet/tensor.h>
#include <stdio.h>
int main(void) {
  lp_ctx *ctx; lp_tensor *t; int64_t shape[2] = {2, 3};
  if (lp_ctx_new(&ctx) != LP_OK || lp_tensor_new(ctx, LP_F32, 2, shape, &t) != LP_OK) return 1;
  printf("%lld\n", (long long)lp_tensor_numel(t));
  lp_tensor_release(t); lp_ctx_free(ctx); return 0;
}
]])
    f:close()
    local out, code = run(("cc -o %s/t %s $(PKG_CONFIG_PATH=%s/lib/pkgconfig pkg-config --cflags --static --libs limpet) -Wl,-rpath,%s/lib && %s/t"):format(prefix, src, prefix, prefix, prefix))
    assert.are.equal(0, code, out)
    assert.are.equal("6\n", out)
  end)
end)

-- `luarocks make` (limpet-0.1.0-1.rockspec) into a fresh Lua 5.4 rock tree:
-- a plain lua5.4 with that tree's paths then loads limpet, its C module and
-- a chip's Lua files.
describe("luarocks make", function()
  if sanitized then
    pending("skipped under sanitizers")
    return
  end
  local _, has = run("command -v luarocks")
  if has ~= 0 then
    pending("skipped: luarocks is not installed (`make deps` installs it)")
    return
  end
  it("installs a working require 'limpet' into a rock tree", function()
    local tree = os.tmpname()
    os.remove(tree)
    local out, code = run(("luarocks --lua-version=5.4 make --tree=%s limpet-0.1.0-1.rockspec"):format(tree))
    assert.are.equal(0, code, out)
    local got, rc = run(("eval \"$(luarocks --lua-version=5.4 --tree=%s path)\" && cd / && lua5.4 -e "
      .. "'local lp = require \"limpet\"; print(lp.version, lp.ones(2, 3):sum():item(), "
      .. "package.searchpath(\"limpet.core\", package.cpath) ~= nil, lp.xylo.audio2 ~= nil)'"):format(tree))
    run("rm -rf " .. tree)
    assert.are.equal(0, rc, got)
    assert.matches("^0%.1%.0\t6%.0\ttrue\ttrue\n$", got)
  end)
end)
