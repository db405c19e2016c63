-- limpet-0.1.0-1.rockspec -- `luarocks make` builds limpet's C module
-- (limpet.core) with the project's Makefile and installs it and the pure-Lua
-- library (stdlib/limpet, devices/<chip>) into a Lua 5.4 rock tree, so that
-- `require "limpet"` works from a plain lua5.4. `make install` stays the way
-- to install the executable, the C libraries and the headers.
rockspec_format = "3.0"
package = "limpet"
version = "0.1.0-1"
source = {
  url = "git+file://.",   -- built from a checkout: `luarocks make` in its root
}
description = {
  summary = "Spiking neural networks: a fast C engine under Lua 5.4, after Rockpool",
  detailed = [[
    Tensors with autodiff, fused LIF kernels with BPTT, Rockpool's module
    system, time series and neuromorphic data sets, figures, and the deploy
    path to SynSense's Xylo chips (bit-exact simulator) and Dynap-SE2.
  ]],
  license = "proprietary",
}
supported_platforms = { "linux" }
dependencies = { "lua >= 5.4, < 5.5" }
external_dependencies = {
  HDF5 = { header = "hdf5/serial/hdf5.h" },
  ZLIB = { header = "zlib.h" },
  JANSSON = { header = "jansson.h" },
  PLPLOT = { header = "plplot/plplot.h" },
  PNG = { header = "png.h" },
}
build = {
  type = "make",
  build_target = "rock",
  build_variables = { CFLAGS = "$(CFLAGS)" },
  install_target = "rock-install",
  install_variables = { ROCK_LIBDIR = "$(LIBDIR)", ROCK_LUADIR = "$(LUADIR)" },
}
