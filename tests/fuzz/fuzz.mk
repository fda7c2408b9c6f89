# fuzz.mk - libFuzzer runs over octet's parsers of untrusted files: GGUF (reader
# and model description), function specs, patches, search/replace blocks,
# presets, the HTTP server's requests, a remote engine's replies and the
# requests a search watcher reads from its socket.
# Invoked by `make fuzz` (FUZZ_SECONDS, default 600):
#   make -f tests/fuzz/fuzz.mk [FUZZ_SECONDS=N]   build every harness, then fuzz the GGUF one
#   make -f tests/fuzz/fuzz.mk spec|patch|blocks  the spec, patch or blocks parser likewise
#   make -f tests/fuzz/fuzz.mk preset|openai|client  presets, server requests, remote replies
#   make -f tests/fuzz/fuzz.mk searchd             the watcher's requests
#   make -f tests/fuzz/fuzz.mk seeds               rewrite the seed corpus
# The harness is built with clang -fsanitize=fuzzer,address,undefined. New
# inputs go to build-fuzz/corpus/gguf (not committed); the committed seeds in
# tests/fuzz/corpus/gguf are read-only inputs. A crash is written to
# tests/fuzz/regressions/gguf/, where tests/unit/engine/test_fuzz_gguf.c replays it in
# every `make test`.

FUZZ_CC ?= clang
FUZZ_SECONDS ?= 600
FUZZ_BUILD := build-fuzz
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-Wall -Wextra -Werror -Iengine -Itests
# Sources the GGUF harness exercises.
FUZZ_SRC := tests/fuzz/fuzz_gguf.c engine/gguf.c engine/model.c
FUZZ_DEPS := $(FUZZ_SRC) engine/gguf.h engine/model.h engine/errmsg.h
FUZZ_LIBS := -lm
SEEDS := tests/fuzz/corpus/gguf
REGRESSIONS := tests/fuzz/regressions/gguf
FUZZ_FLAGS := -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -max_len=65536 \
	-dict=tests/fuzz/gguf.dict -artifact_prefix=$(REGRESSIONS)/ -timeout=10 -rss_limit_mb=2048

.PHONY: run all-harnesses seeds spec patch blocks preset openai client searchd
# `make -f tests/fuzz/fuzz.mk` with no target fuzzes the GGUF reader, as `make fuzz` promises (the first
# rule below only builds the harnesses)
.DEFAULT_GOAL := run
# every harness is linked before the GGUF run, so a source list that fell
# behind the code (a module split, a library opened with dlopen) shows at once
HARNESSES := $(addprefix $(FUZZ_BUILD)/fuzz_,gguf spec patch blocks preset openai client searchd)
all-harnesses: $(HARNESSES)

run: all-harnesses
	@mkdir -p $(FUZZ_BUILD)/corpus/gguf $(REGRESSIONS)
	$(FUZZ_BUILD)/fuzz_gguf $(FUZZ_FLAGS) $(FUZZ_BUILD)/corpus/gguf $(SEEDS)

$(FUZZ_BUILD)/fuzz_gguf: $(FUZZ_DEPS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(FUZZ_SRC) $(FUZZ_LIBS)

seeds: $(FUZZ_BUILD)/gen_seeds
	@mkdir -p $(SEEDS)
	$(FUZZ_BUILD)/gen_seeds $(SEEDS)

$(FUZZ_BUILD)/gen_seeds: tests/fuzz/gen_seeds.c tests/gguf_build.h engine/gguf.c engine/gguf.h
	@mkdir -p $(@D)
	$(FUZZ_CC) -std=c11 -D_GNU_SOURCE -O1 -Wall -Wextra -Werror -Iengine -Itests -o $@ \
		tests/fuzz/gen_seeds.c engine/gguf.c -lm

# Specs, patches, presets, requests and replies: the harnesses link the CLI
# and TUI modules they test and what those use.
FUZZ_X_CFLAGS = $(FUZZ_CFLAGS) -Ibase -Iflows -Iserve -Ipresets -Irag -Ikernels -Itui -Icli -DOCTET_VERSION='"fuzz"' \
	$(shell pkg-config --cflags libcjson libgit2 libpcre2-8 sqlite3 libcurl)
# libgit2 is opened with dlopen (rag/gitlib.c), as octet does
FUZZ_X_LIBS = $(shell pkg-config --libs libcjson libpcre2-8 sqlite3 libcurl libzstd) -lm -ldl -pthread
FUZZ_ENGINE_SRC = $(wildcard engine/*.c kernels/cpu/*.c)
FUZZ_BASE_SRC = $(wildcard base/*.c)
FUZZ_X_FLAGS = -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -timeout=10 -rss_limit_mb=2048

spec patch blocks preset openai client searchd: %: $(FUZZ_BUILD)/fuzz_%
	@mkdir -p $(FUZZ_BUILD)/corpus/$@ tests/fuzz/regressions/$@
	$(FUZZ_BUILD)/fuzz_$@ $(FUZZ_X_FLAGS) -artifact_prefix=tests/fuzz/regressions/$@/ \
		$(FUZZ_BUILD)/corpus/$@ tests/fuzz/corpus/$@

$(FUZZ_BUILD)/fuzz_patch: tests/fuzz/fuzz_patch.c flows/patch.c flows/patch.h flows/patch_io.c rag/gitlib.c rag/gitlib.h engine/lazylib.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_X_CFLAGS) -o $@ tests/fuzz/fuzz_patch.c flows/patch.c flows/patch_io.c rag/gitlib.c engine/lazylib.c $(FUZZ_BASE_SRC) $(FUZZ_X_LIBS)

$(FUZZ_BUILD)/fuzz_blocks: tests/fuzz/fuzz_blocks.c flows/blocks.c flows/blocks.h rag/gitlib.c rag/gitlib.h engine/lazylib.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_X_CFLAGS) -o $@ tests/fuzz/fuzz_blocks.c flows/blocks.c rag/gitlib.c engine/lazylib.c $(FUZZ_BASE_SRC) $(FUZZ_X_LIBS)

FUZZ_SPEC_SRC = $(wildcard flows/*.c)
$(FUZZ_BUILD)/fuzz_spec: tests/fuzz/fuzz_spec.c $(FUZZ_SPEC_SRC) flows/spec.h flows/spec_int.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_X_CFLAGS) -o $@ tests/fuzz/fuzz_spec.c $(FUZZ_SPEC_SRC) \
		$(wildcard engine/*.c kernels/cpu/*.c rag/*.c serve/*.c presets/*.c) $(FUZZ_BASE_SRC) $(FUZZ_X_LIBS)

$(FUZZ_BUILD)/fuzz_preset: tests/fuzz/fuzz_preset.c presets/preset.c presets/preset.h presets/config.c presets/config.h \
		$(FUZZ_ENGINE_SRC)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_X_CFLAGS) -o $@ tests/fuzz/fuzz_preset.c presets/preset.c presets/config.c $(FUZZ_ENGINE_SRC) \
		$(FUZZ_BASE_SRC) $(FUZZ_X_LIBS)

$(FUZZ_BUILD)/fuzz_openai: tests/fuzz/fuzz_openai.c tests/fuzz/fuzz_utf8.h serve/openai.c serve/openai.h \
		$(FUZZ_ENGINE_SRC)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_X_CFLAGS) -o $@ tests/fuzz/fuzz_openai.c serve/openai.c $(FUZZ_ENGINE_SRC) $(FUZZ_BASE_SRC) $(FUZZ_X_LIBS)

$(FUZZ_BUILD)/fuzz_client: tests/fuzz/fuzz_client.c serve/openai.c serve/openai.h serve/remote.c serve/remote.h \
		$(FUZZ_ENGINE_SRC)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_X_CFLAGS) -o $@ tests/fuzz/fuzz_client.c serve/openai.c serve/remote.c \
		$(FUZZ_ENGINE_SRC) $(FUZZ_BASE_SRC) $(FUZZ_X_LIBS)

$(FUZZ_BUILD)/fuzz_searchd: tests/fuzz/fuzz_searchd.c cli/searchd.c cli/searchd.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_X_CFLAGS) -o $@ tests/fuzz/fuzz_searchd.c cli/searchd.c flows/encoder.c \
		$(wildcard rag/*.c presets/*.c) $(FUZZ_ENGINE_SRC) $(FUZZ_BASE_SRC) $(FUZZ_X_LIBS)
