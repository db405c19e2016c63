# Makefile -- builds limpet: the core engine, the Lua bindings, the `limpet`
# executable, the `limpet.core` C module, tests, demo and install.
# One build folder per configuration (build/release, build/asan), so
# switching never mixes objects. `make test` and `make demo` first install
# missing Debian packages (see `deps`). `make fuzz` fuzzes the readers
# (spec/fuzz/README.md).

CFG      ?= release
BUILD    := build/$(CFG)
PREFIX   ?= /usr/local
CC       ?= cc

DEB_PKGS := liblua5.4-dev lua5.4 lua-busted zlib1g-dev libusb-1.0-0-dev libhdf5-dev \
            libopenblas-openmp-dev libreadline-dev dataset-fashion-mnist pkg-config \
            libopenmpi-dev openmpi-bin \
            libjansson-dev libplplot-dev plplot-driver-cairo fonts-dejavu-core libpng-dev luarocks \
            libzip-dev libsndfile1-dev espeak-ng flite \
            clang-14 libclang-rt-14-dev
PKGS     := openblas lua5.4 zlib hdf5 jansson plplot libpng libzip libusb-1.0 sndfile
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN     := -std=c11 -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
BASEFLAGS := $(WARN) -fPIC -fopenmp -D_GNU_SOURCE -MMD -MP -Icore/include -Ilua/include -Ilua \
             $(PKG_CFLAGS)
ifeq ($(CFG),asan)
  OPT      := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
  LDOPT    := -fsanitize=address,undefined
else ifeq ($(CFG),debug)
  OPT      := -O0 -g
  LDOPT    :=
else
  OPT      := -O2 -g
  LDOPT    :=
endif
CFLAGS_ALL := $(BASEFLAGS) $(OPT) $(CFLAGS)
# libhdf5 is not linked: core/src/h5_lazy.c loads it on the first HDF5 call
# (with its 35 dependencies it was half of `limpet -e ''`'s start-up)
HDF5_LIBS  := $(shell pkg-config --libs hdf5 2>/dev/null)
HDF5_SONAME := $(shell objdump -p $(patsubst -L%,%,$(filter -L%,$(HDF5_LIBS)))/libhdf5.so 2>/dev/null | awk '/SONAME/ {print $$2}')
LINK_LIBS  := $(filter-out $(HDF5_LIBS),$(PKG_LIBS))
LIBS_CORE  := -fopenmp $(filter-out -llua5.4,$(LINK_LIBS)) -lm -ldl -lpthread
LIBS_ALL   := -fopenmp $(LINK_LIBS) -lreadline -lm -ldl -lpthread

CORE_SRC   := $(wildcard core/src/*.c) $(wildcard devices/*/*.c)
LUA_SRC    := $(filter-out lua/main.c,$(wildcard lua/*.c))
# lp.dist's MPI module: its own shared object, built when Open MPI is there
MPI_CFLAGS := $(shell pkg-config --cflags ompi-c 2>/dev/null)
MPI_LIBS   := $(shell pkg-config --libs ompi-c 2>/dev/null)
MPIMOD     := $(if $(MPI_LIBS),$(BUILD)/lib/lua/5.4/limpet/mpi.so)
CORE_OBJ   := $(patsubst %.c,$(BUILD)/obj/%.o,$(CORE_SRC))
LUA_OBJ    := $(patsubst %.c,$(BUILD)/obj/%.o,$(LUA_SRC))
MAIN_OBJ   := $(BUILD)/obj/lua/main.o
CTEST_SRC  := $(wildcard spec/c/test_*.c)
CTESTS     := $(patsubst spec/c/%.c,$(BUILD)/tests/%,$(CTEST_SRC))
# one fuzz harness per reader (spec/fuzz/fuzz_<reader>.c); `make test` replays
# each over its committed corpus and regressions (spec/fuzz/README.md)
FUZZ_HARNESS := $(wildcard spec/fuzz/fuzz_*.c)
FUZZ_NAMES := $(patsubst spec/fuzz/fuzz_%.c,%,$(FUZZ_HARNESS))
REPLAYS    := $(patsubst %,$(BUILD)/tests/test_fuzz_%,$(FUZZ_NAMES))

EXE        := $(BUILD)/limpet
LIBCORE    := $(BUILD)/liblimpet-core.a
LIBA       := $(BUILD)/liblimpet.a
LIBSO      := $(BUILD)/liblimpet.so
LUAMOD     := $(BUILD)/lib/lua/5.4/limpet/core.so
HOST       := $(BUILD)/examples/embed/host

.PHONY: all test test-c test-lua check fuzz fuzz-build demo bench install clean deps rock rock-install tutorials
all: $(EXE) $(LIBA) $(LIBSO) $(LUAMOD) $(MPIMOD) $(HOST) $(CTESTS) $(REPLAYS) $(BUILD)/limpet.pc

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@
# lua/paths.c falls back on the source tree and the install prefix to find
# limpet's Lua modules (embedding hosts that live elsewhere).
$(BUILD)/obj/lua/paths.o: CFLAGS_ALL += -DLIMPET_SOURCE_ROOT=\"$(CURDIR)\" -DLIMPET_PREFIX=\"$(PREFIX)\"
# ... so it is rebuilt when PREFIX changes (`make` then `make install PREFIX=/opt/x`).
$(BUILD)/obj/lua/paths.o: $(BUILD)/prefix.stamp
$(BUILD)/prefix.stamp: FORCE
	@mkdir -p $(dir $@); echo '$(PREFIX)' | cmp -s - $@ || echo '$(PREFIX)' > $@
FORCE:
# the Adam step's sqrt inline, so its loop vectorises (core/src/optim.c; sqrt is exact either way)
$(BUILD)/obj/core/src/optim.o: CFLAGS_ALL += -fno-math-errno
# the event-driven conv loops (run length Og, unknown at compile time) vectorise under the dynamic
# cost model (-O2's very-cheap model leaves them scalar; callgrind: 841 M -> 556 M instructions)
# (and the NIR neurons' float rows and the row sums of lp_reduce: n inner, any N)
$(BUILD)/obj/core/src/conv.o $(BUILD)/obj/core/src/nirneuron.o $(BUILD)/obj/core/src/reduce.o: CFLAGS_ALL += -fvect-cost-model=dynamic
$(BUILD)/obj/core/src/h5_lazy.o: CFLAGS_ALL += $(if $(HDF5_SONAME),-DLP_HDF5_SONAME=\"$(HDF5_SONAME)\")

$(LIBCORE): $(CORE_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^
$(LIBA): $(CORE_OBJ) $(LUA_OBJ)
	rm -f $@ && ar rcs $@ $^
$(LIBSO): $(CORE_OBJ) $(LUA_OBJ)
	$(CC) -shared $(LDOPT) -o $@ $^ $(LIBS_ALL)
$(LUAMOD): $(CORE_OBJ) $(LUA_OBJ)
	@mkdir -p $(dir $@)
	$(CC) -shared $(LDOPT) -o $@ $^ $(LIBS_CORE) -lm
$(BUILD)/lib/lua/5.4/limpet/mpi.so: lua/mpi/mpi.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(MPI_CFLAGS) -shared $(LDOPT) -o $@ $< $(MPI_LIBS) -ldl
$(EXE): $(MAIN_OBJ) $(LIBA)
	$(CC) $(LDOPT) -rdynamic -o $@ $(MAIN_OBJ) $(LIBA) $(LIBS_ALL)
$(HOST): examples/embed/host.c $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(LDOPT) -o $@ $< $(LIBA) $(LIBS_ALL)
$(BUILD)/tests/%: spec/c/%.c spec/c/check.h spec/c/fail_alloc.h $(LIBCORE)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Icore/src $(LDOPT) -o $@ $< $(LIBCORE) $(LIBS_CORE)
$(BUILD)/tests/test_fuzz_%: spec/fuzz/fuzz_%.c spec/fuzz/replay.c spec/fuzz/harness.h $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(LDOPT) -DFUZZ_NAME=\"$*\" -DFUZZ_ROOT=\"$(CURDIR)/spec/fuzz\" -o $@ \
	  spec/fuzz/replay.c $< $(LIBA) $(LIBS_ALL)
# Lua is in Requires, not only Requires.private: an embedding host calls the
# Lua API itself (lua_settop, ...), so `pkg-config --libs limpet` must link it.
# The rpath lets a host built against any prefix run without LD_LIBRARY_PATH.
$(BUILD)/limpet.pc: Makefile
	@mkdir -p $(dir $@)
	printf 'prefix=%s\nlibdir=$${prefix}/lib\nincludedir=$${prefix}/include\n\nName: limpet\nDescription: spiking neural networks: C engine with embedded Lua\nVersion: 0.1.0\nRequires: lua5.4\nRequires.private: openblas zlib hdf5 jansson plplot libpng libzip\nCflags: -I$${includedir}\nLibs: -L$${libdir} -Wl,-rpath,$${libdir} -llimpet\nLibs.private: -lsndfile -fopenmp -lm -ldl -lusb-1.0\n' '$(PREFIX)' > $@

# Missing Debian packages are installed (as root, or through sudo).
deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

test: deps
	@$(MAKE) --no-print-directory all
	@sh spec/run_tests.sh $(BUILD)

test-c: all
	@sh spec/run_tests.sh $(BUILD) c
test-lua: all
	@sh spec/run_tests.sh $(BUILD) lua

check: deps
	@$(MAKE) --no-print-directory CFG=asan all
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/spec/fuzz/lsan.supp:print_suppressions=0 \
	  LIMPET_SANITIZED=1 sh spec/run_tests.sh build/asan

demo: deps
	@$(MAKE) --no-print-directory all
	$(EXE) examples/demo.lua --quick
	$(EXE) examples/temporal_xor.lua --quick
	$(EXE) examples/spiking_regression.lua --quick
	$(EXE) examples/xylo_deploy.lua --quick
	$(EXE) examples/xylo_sweep.lua --quick --out $(BUILD)/xylo_sweep.jsonl
	$(EXE) examples/xylo_audio_frontend.lua --quick --out $(BUILD)/examples/xylo_audio_frontend
	$(EXE) examples/dynapse2_neuron.lua --quick --out $(BUILD)
	$(EXE) examples/dynapse2_quickstart.lua --quick --out $(BUILD)
	$(EXE) examples/fashion_mnist_snn.lua --quick --out $(BUILD)
	$(EXE) examples/xylo_imu.lua --quick --out $(BUILD)
	$(EXE) examples/xylo_qat.lua --quick
	$(EXE) examples/adversarial.lua --quick
	$(EXE) examples/wavesense.lua --quick
	$(EXE) examples/nir_roundtrip.lua --quick --out $(BUILD)
	$(EXE) examples/fashion_mnist_cnn.lua --quick --out $(BUILD)
	$(EXE) examples/xylo_kws.lua --quick --out $(BUILD)/examples/xylo_kws --cache $(BUILD)/kws/cache
	$(EXE) examples/shd_training.lua --quick --root spec/fixtures/data/shd

# `make tutorials`: each examples/tutorials/NN_name.lua run with --quick and
# rendered to build/tutorials/NN_name.md (figures beside it), then index.md.
TUTORIALS  := $(sort $(wildcard examples/tutorials/[0-9][0-9]_*.lua))
tutorials: all
	@for t in $(TUTORIALS); do \
	  $(EXE) -e "require('limpet.tutorial').main{outdir = 'build/tutorials', index = false, '$$t'}" || exit 1; \
	done
	@$(EXE) -e "require('limpet.tutorial').main{outdir = 'build/tutorials', index = 'only', $(foreach t,$(TUTORIALS),'$(t)',)}"
	@echo "build/tutorials/index.md: $(words $(TUTORIALS)) tutorials"

# `make fuzz [FUZZ_SECONDS=30]`: every harness under libFuzzer with ASan and
# UBSan (clang-14, build/fuzz/), FUZZ_SECONDS each, seeded from
# spec/fuzz/corpus/<reader>/ and regressions/<reader>/; fails on any crash,
# sanitizer report, leak or timeout (spec/fuzz/README.md).
FUZZ_CC      ?= clang-14
FUZZ_SECONDS ?= 30
FUZZ_BUILD   := build/fuzz
FUZZ_BINS    := $(patsubst %,$(FUZZ_BUILD)/fuzz_%,$(FUZZ_NAMES))
FUZZ_OBJ     := $(patsubst %.c,$(FUZZ_BUILD)/obj/%.o,$(CORE_SRC) $(LUA_SRC))
FUZZ_CFLAGS  := $(filter-out -fopenmp,$(BASEFLAGS)) -Wno-unknown-pragmas -O1 -g \
                -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all \
                -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
FUZZ_LIBS    := $(filter-out -fopenmp,$(LIBS_ALL))

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@
$(FUZZ_BUILD)/obj/lua/paths.o: FUZZ_CFLAGS += -DLIMPET_SOURCE_ROOT=\"$(CURDIR)\" -DLIMPET_PREFIX=\"$(PREFIX)\"
$(FUZZ_BUILD)/fuzz_%: spec/fuzz/fuzz_%.c spec/fuzz/harness.h $(FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -DFUZZ_ROOT=\"$(CURDIR)/spec/fuzz\" -o $@ $< \
	  $(FUZZ_OBJ) $(FUZZ_LIBS)

# the objects stay between runs (they are prerequisites of a pattern rule
# only, which make would otherwise delete as intermediate files)
.SECONDARY: $(FUZZ_OBJ)
fuzz-build: $(FUZZ_BINS)
fuzz: deps
	@$(MAKE) --no-print-directory fuzz-build
	@sh spec/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

# `make bench QUICK=1`: fewer repetitions (under a minute).
bench: all
	@if [ -d bench ]; then for b in bench/*.lua; do $(EXE) $$b $(if $(filter-out 0,$(QUICK)),--quick); done; \
	  else echo "no benchmarks yet"; fi

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include/limpet \
	  $(DESTDIR)$(PREFIX)/lib/lua/5.4/limpet $(DESTDIR)$(PREFIX)/share/lua/5.4 $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(EXE) $(DESTDIR)$(PREFIX)/bin/limpet
	install -m 644 lua/limpet.1 $(DESTDIR)$(PREFIX)/share/man/man1/limpet.1
	install -m 644 $(LIBA) $(DESTDIR)$(PREFIX)/lib/liblimpet.a
	install -m 755 $(LIBSO) $(DESTDIR)$(PREFIX)/lib/liblimpet.so
	install -m 755 $(LUAMOD) $(DESTDIR)$(PREFIX)/lib/lua/5.4/limpet/core.so
	$(if $(MPIMOD),install -m 755 $(MPIMOD) $(DESTDIR)$(PREFIX)/lib/lua/5.4/limpet/mpi.so)
	install -m 644 core/include/limpet/*.h lua/include/limpet/*.h $(DESTDIR)$(PREFIX)/include/limpet/
	sed 's|^prefix=.*|prefix=$(PREFIX)|' $(BUILD)/limpet.pc > $(DESTDIR)$(PREFIX)/lib/pkgconfig/limpet.pc
	$(call install_lua,$(DESTDIR)$(PREFIX)/share/lua/5.4)

# The pure-Lua library into folder $(1): stdlib/limpet, and each chip's Lua
# files as limpet/<chip>/.
define install_lua
	cp -R stdlib/limpet $(1)/
	for d in devices/*/; do [ -f $$d/init.lua ] && mkdir -p $(1)/limpet/$$(basename $$d) \
	  && cp $$d*.lua $(1)/limpet/$$(basename $$d)/; done; true
endef

# LuaRocks (`luarocks make` with limpet-0.1.0-1.rockspec): the C module, then
# it and the Lua library into the rock tree's folders.
rock: $(LUAMOD)
rock-install: rock
	install -d $(ROCK_LIBDIR)/limpet $(ROCK_LUADIR)
	install -m 755 $(LUAMOD) $(ROCK_LIBDIR)/limpet/core.so
	$(call install_lua,$(ROCK_LUADIR))

clean:
	rm -rf build

-include $(CORE_OBJ:.o=.d) $(LUA_OBJ:.o=.d) $(MAIN_OBJ:.o=.d)
ifneq ($(filter fuzz fuzz-build build/fuzz/%,$(MAKECMDGOALS)),)
-include $(FUZZ_OBJ:.o=.d)
endif
