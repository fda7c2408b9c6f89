# octet - a local coding assistant in C.
#
#   make            build ./octet and the static libraries of its floors in build/:
#                   libbase.a, libengine.a, librag.a, libpresets.a, libserve.a, libflows.a
#   make run        install missing Debian packages, build, start octet in this repository
#   make test       install missing Debian packages, build, check the floors (make layers),
#                   run the whole test suite
#   make layers     check that every #include goes down the floors (tools/layers.sh)
#   make asan       the test suite under AddressSanitizer + UBSan (in build-asan/)
#   make fuzz       fuzz the GGUF parser with libFuzzer (FUZZ_SECONDS, default 600)
#   make CUDA=0     build without the CUDA backend plugin even when nvcc is present
#   make CC=clang   build with clang instead of gcc

CC ?= cc
BUILD ?= build
OCTET_BIN ?= octet
OPT ?= -O2 -g
SAN ?=
VERSION := 0.1.0

CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -pthread -MMD -MP \
	-Ibase -Iengine -Ikernels -Irag -Ipresets -Iserve -Iflows -Itui -Icli -DOCTET_VERSION='"$(VERSION)"'
# libmicrohttpd, libcurl and libgit2 are compiled against but not linked:
# serve/ opens the first two with dlopen when a server or a remote engine is
# first used (engine/lazylib.h), rag/ and flows/ libgit2 when a repository
# needs it (rag/gitlib.h), so that the other commands start without them.
PKGS_LINKED := libpcre2-8 sqlite3 ncursesw libcjson libzstd
PKGS := $(PKGS_LINKED) libmicrohttpd libcurl libgit2
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS_LINKED) 2>/dev/null)
LDLIBS = $(PKG_LIBS) -lm -pthread

# CUDA backend: the plugin octet-cuda.so beside the octet binary, built when
# nvcc is found (unless CUDA=0). It holds the kernels, cudart (static) and the
# link to cuBLASLt; octet opens it with dlopen only when a GPU is asked for
# (engine/be_cuda_plugin.c), so octet itself links no CUDA library.
NVCC ?= $(shell command -v nvcc 2>/dev/null || ls /usr/local/cuda/bin/nvcc 2>/dev/null)
CUDA ?= $(if $(NVCC),1,0)
CU_SRC := $(wildcard kernels/cuda/*.cu)
CUDA_PLUGIN := $(dir $(OCTET_BIN))octet-cuda.so
ifeq ($(CU_SRC),)
CUDA := 0
endif
ifeq ($(CUDA),1)
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(NVCC))
# Machine code for Ampere (sm_80) and Hopper (sm_90), and sm_90 PTX that the
# driver compiles for newer GPUs.
NVCCFLAGS ?= -O3 -std=c++17 -Iengine -Ikernels -DOCTET_VERSION='"$(VERSION)"' \
	-gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 \
	-gencode arch=compute_90,code=compute_90 \
	-Werror all-warnings -Xcompiler -fPIC,-fvisibility=hidden,-Wall,-Wextra,-Werror
.DEFAULT_GOAL := all
CU_OBJ := $(patsubst %.cu,$(BUILD)/obj/%.cu.o,$(CU_SRC))
$(CU_OBJ): $(wildcard kernels/cuda/*.cuh) engine/backend.h engine/errmsg.h
PLUGIN_TARGET := $(CUDA_PLUGIN)
$(CUDA_PLUGIN): $(CU_OBJ)
	$(NVCC) -shared -cudart static -o $@ $^ -L$(CUDA_HOME)/lib64 -lcublasLt \
		-Xlinker --no-undefined,-rpath,$(CUDA_HOME)/lib64
endif

CFLAGS ?=
CFLAGS_ALL = $(CFLAGS_BASE) $(OPT) $(SAN) $(PKG_CFLAGS) $(CFLAGS)

BASE_SRC := $(wildcard base/*.c)
ENGINE_SRC := $(wildcard engine/*.c) $(wildcard kernels/cpu/*.c)
RAG_SRC := $(wildcard rag/*.c)
PRESETS_SRC := $(wildcard presets/*.c)
SERVE_SRC := $(wildcard serve/*.c)
FLOWS_SRC := $(wildcard flows/*.c)
APP_SRC := $(wildcard cli/*.c) $(wildcard tui/*.c)
# Unit tests live in tests/unit/<floor>/; a test_*.c left in tests/ still builds.
TEST_SRC := $(wildcard tests/unit/*/test_*.c) $(wildcard tests/test_*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
ENGINE_OBJ := $(call obj,$(ENGINE_SRC))
BASE_OBJ := $(call obj,$(BASE_SRC))
RAG_OBJ := $(call obj,$(RAG_SRC))
PRESETS_OBJ := $(call obj,$(PRESETS_SRC))
SERVE_OBJ := $(call obj,$(SERVE_SRC))
FLOWS_OBJ := $(call obj,$(FLOWS_SRC))
APP_OBJ := $(call obj,$(APP_SRC))
# Test binaries link every app object except the one holding main().
APP_LIB_OBJ := $(filter-out $(BUILD)/obj/cli/main.o,$(APP_OBJ))
TEST_BIN := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRC))

# Upper floors first: a static library is searched once, in link order.
LIBS := $(BUILD)/libflows.a $(BUILD)/libserve.a $(BUILD)/libpresets.a $(BUILD)/librag.a $(BUILD)/libengine.a \
	$(BUILD)/libbase.a

.PHONY: all run test asan fuzz deps clean tests layers gpu-test
all: $(OCTET_BIN) $(PLUGIN_TARGET)

$(OCTET_BIN): $(APP_OBJ) $(LIBS)
	$(CC) $(CFLAGS_ALL) -o $@ $(APP_OBJ) $(LIBS) $(LDLIBS)

$(BUILD)/libengine.a: $(ENGINE_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && $(AR) rcs $@ $^

$(BUILD)/libbase.a: $(BASE_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && $(AR) rcs $@ $^

$(BUILD)/librag.a: $(RAG_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && $(AR) rcs $@ $^

$(BUILD)/libpresets.a: $(PRESETS_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && $(AR) rcs $@ $^

$(BUILD)/libserve.a: $(SERVE_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && $(AR) rcs $@ $^

$(BUILD)/libflows.a: $(FLOWS_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && $(AR) rcs $@ $^

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -c -o $@ $<

$(BUILD)/obj/%.cu.o: %.cu
	@mkdir -p $(@D)
	$(NVCC) $(NVCCFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/%.c $(APP_LIB_OBJ) $(LIBS) tests/test.h tests/test_repo.h tests/test_sh.h tests/fuzz_replay.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -Itests -o $@ $< $(APP_LIB_OBJ) $(LIBS) $(LDLIBS)

tests: $(TEST_BIN) $(OCTET_BIN) $(PLUGIN_TARGET)

deps:
	@tools/deps.sh

# The dependency check runs first, in its own make, so that pkg-config flags
# are read after any installation.
run: deps
	@$(MAKE) --no-print-directory all
	./$(OCTET_BIN)

layers:
	@tools/layers.sh

test: deps layers
	@$(MAKE) --no-print-directory tests
	@tests/run.sh $(BUILD) ./$(OCTET_BIN)

asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan OCTET_BIN=build-asan/octet CC=clang \
		OPT="-O1 -g -fno-omit-frame-pointer" CUDA=0 \
		SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined" tests
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
		tests/run.sh build-asan build-asan/octet

# On a machine with an NVIDIA GPU: issue 13's checks and the side-by-side
# bench in one run (tools/gpu/quick.sh; octet from .gpu/bundle.tar.xz when
# tools/gpu/bundle.sh made one, else this build). Not part of `make test`.
gpu-test:
	@bash tools/gpu/quick.sh

FUZZ_SECONDS ?= 600
fuzz: deps
	@$(MAKE) --no-print-directory -f tests/fuzz/fuzz.mk FUZZ_SECONDS=$(FUZZ_SECONDS)

clean:
	rm -rf build build-asan build-fuzz $(OCTET_BIN) $(CUDA_PLUGIN)

-include $(shell find $(BUILD)/obj $(BUILD)/tests -name '*.d' 2>/dev/null)
