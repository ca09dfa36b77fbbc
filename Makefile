# mille - one Makefile, named variants:
#   make            CLI build/mille, build/libmille.a, build/libmille.so (-O2)
#   make test       unit + CLI tests under ASan+UBSan (build/asan/)
#   make asan       just the sanitizer build
#   make tsan       ThreadSanitizer run of the threaded tests
#   make debug      -O0 -g build in build/debug/
#   make fuzz       libFuzzer targets (clang), each run FUZZ_SECONDS on its kept corpus
#   make demo       train on the bundled sample, score it, parse utterances (README)
#   make deps       install the Debian packages the build and tests need (tools/deps.sh);
#                   make demo and make test run it first when one is missing
#   make bench      benchmarks (see bench/ and docs/BENCHMARKS.md)
#   make lint       clang-format check + banned-function check
#   make install    PREFIX=/usr/local: CLI, header, libraries, pkg-config file
#   make install-test  install to a temporary prefix, build and run examples/ against it
#   make browser-test  the playground page in headless Chromium
#   make zeroshot OUT=path   the best zero-shot model (docs/zeroshot.md)
#   make model      rebuild the shipped model (models/mille.model) from MASSIVE: teachers,
#                   distillation, int8 (tools/model.sh; ~2.5 h on 2 cores)
# WERROR=1 turns warnings into errors (CI sets it).

CC       ?= cc
BUILD    ?= build
OPT      ?= -O2 -g
SAN      ?=
WERROR   ?=
FUZZ_SECONDS ?= 20
MASSIVE  ?= ../shared/massive-1.1
# `make demo` and `make test` first run `make deps` when a package is missing (one dpkg -s)
ifneq ($(filter demo test,$(MAKECMDGOALS)),)
NEED_DEPS := $(if $(shell sh tools/deps.sh --missing),deps)
endif

WARN     := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wformat=2 -Wvla
ifeq ($(WERROR),1)
WARN     += -Werror
endif
# src/ is grouped by layer, each depending only on those before it:
#   core.c <- text/ <- data/ <- model/, lexicon/ <- train/ <- api.c; learn/ needs core.c, text/
LAYERS   := text data model lexicon train learn
CPPFLAGS := -Iinclude -Isrc $(LAYERS:%=-Isrc/%) -Icli -Iserver -DMILLE_BUILD $(shell pkg-config --cflags icu-uc openblas 2>/dev/null) $(shell pkg-config --cflags hunspell 2>/dev/null || echo -I/usr/include/hunspell)
CFLAGS   := -std=c11 $(OPT) $(WARN) -fvisibility=hidden -fPIC $(SAN) $(EXTRA_CFLAGS)
LDLIBS   := -licui18n -licuuc -licudata -lutf8proc -ljansson -larchive -lz -lyaml \
            $(shell pkg-config --libs hunspell 2>/dev/null || echo -lhunspell-1.7) \
            $(shell pkg-config --libs openblas 2>/dev/null || echo -lopenblas) -lm -lpthread
LDFLAGS  := $(SAN)

LIB_SRC  := $(sort $(wildcard src/*.c $(LAYERS:%=src/%/*.c)))
# the mille binary: cli/ (commands) and server/ (`mille serve`: HTTP front and request handler)
CLI_SRC  := $(sort $(wildcard cli/*.c server/*.c)) $(BUILD)/gen/playground.c
TEST_SRC := $(sort $(wildcard tests/test_*.c)) tests/harness.c
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ  := $(patsubst %.c,$(BUILD)/%.o,$(filter cli/% server/%,$(CLI_SRC))) $(BUILD)/gen/playground.o
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/%.o)
DEPS     := $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_OBJ:.o=.d)

.PHONY: all test asan tsan debug fuzz bench lint clean demo install install-test zeroshot model
all: $(BUILD)/mille $(BUILD)/libmille.a $(BUILD)/libmille.so

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

# The playground page, embedded in the binary as a byte array.
$(BUILD)/gen/playground.c: web/playground.html tools/embed.sh
	@mkdir -p $(dir $@)
	sh tools/embed.sh mille_playground_html $< > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/playground.o: $(BUILD)/gen/playground.c
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/libmille.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

VERSION  := $(shell sed -n 's/^\#define MILLE_VERSION_STRING "\(.*\)"/\1/p' include/mille.h)
SOMAJOR  := $(shell sed -n 's/^\#define MILLE_VERSION_MAJOR *\([0-9]*\)/\1/p' include/mille.h)
$(BUILD)/libmille.so: $(LIB_OBJ)
	$(CC) -shared $(LDFLAGS) -Wl,-soname,libmille.so.$(SOMAJOR) -o $@ $^ $(LDLIBS)

$(BUILD)/mille: $(CLI_OBJ) $(BUILD)/libmille.a $(BUILD)/libmille_dialogue.a
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(DLG_LINK) $(BUILD)/libmille.a $(LDLIBS) -lmicrohttpd $(MPI_LIBS)

# the tests also drive the HTTP request handler (server/srv.c) and the rate limiter, without sockets
TEST_SRV := $(BUILD)/server/srv.o $(BUILD)/server/rasa.o $(BUILD)/server/ratelimit.o $(BUILD)/gen/playground.o
$(BUILD)/test_mille: $(TEST_OBJ) $(TEST_SRV) $(BUILD)/libmille.a $(BUILD)/libmille_dialogue.a
	$(CC) $(LDFLAGS) -o $@ $(TEST_OBJ) $(TEST_SRV) $(DLG_LINK) $(BUILD)/libmille.a $(LDLIBS)

SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
asan:
	$(MAKE) BUILD=build/asan OPT="-O1 -g" SAN="$(SANFLAGS)" build/asan/mille build/asan/test_mille

debug:
	$(MAKE) BUILD=build/debug OPT="-O0 -g" build/debug/mille build/debug/test_mille

# ThreadSanitizer on the tests that run threads (training, prediction, features).
TSAN_TESTS := train_threads_give_identical_weights model_save_load_same_predictions \
              api_concurrent_sessions_share_a_model srv_reload_under_load \
              q8_model_agrees_with_f32_and_round_trips \
              srv_micro_batching_under_load \
              comm_ranks_give_the_weights_of_one_process \
              comm_sharded_update_resumes_across_rank_counts \
              codeswitch_training_threads_give_identical_weights \
              langid_sessions_identify_in_threads \
              dialogue_concurrent_sessions srv_dialogue_under_load
tsan:
	$(MAKE) BUILD=build/tsan OPT="-O1 -g" SAN="-fsanitize=thread" build/tsan/test_mille
	TSAN_OPTIONS=halt_on_error=1 build/tsan/test_mille $(TSAN_TESTS)

# Tests run under ASan+UBSan. T=name runs one unit test.
test: $(NEED_DEPS)
	$(MAKE) asan
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 build/asan/test_mille $(T)
	MILLE=build/asan/mille MASSIVE=$(MASSIVE) sh tests/cli_test.sh
	MILLE=build/asan/mille python3 tests/http_test.py
	$(MAKE) BUILD=build/asan OPT="-O1 -g" SAN="$(SANFLAGS)" voice-test

FUZZ_TARGETS := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_CFLAGS  := -fsanitize=fuzzer-no-link,address,undefined
# the request handler of `mille serve` is fuzzed with the page it embeds
FUZZ_SRV     := server/srv.c server/rasa.c build/fuzz/gen/playground.c
fuzz:
	$(MAKE) CC=clang BUILD=build/fuzz OPT="-O1 -g" SAN="$(FUZZ_CFLAGS)" build/fuzz/libmille.a \
	  build/fuzz/gen/playground.c build/fuzz/libmille_dialogue.a
	@set -e; for t in $(FUZZ_TARGETS); do \
	  clang $(CPPFLAGS) -Idialogue -std=c11 -O1 -g -fsanitize=fuzzer,address,undefined \
	    tests/fuzz/fuzz_$$t.c $(FUZZ_SRV) build/fuzz/libmille_dialogue.a build/fuzz/libmille.a \
	    $(LDLIBS) $(DLG_LIBS) -o build/fuzz/fuzz_$$t; \
	  mkdir -p build/fuzz/corpus_$$t tests/fuzz/corpus/$$t; \
	  echo "fuzz $$t for $(FUZZ_SECONDS)s"; \
	  build/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=0 \
	    build/fuzz/corpus_$$t tests/fuzz/corpus/$$t 2>build/fuzz/fuzz_$$t.log \
	    || { tail -50 build/fuzz/fuzz_$$t.log; exit 1; }; \
	  grep -E '^Done [0-9]+ runs' build/fuzz/fuzz_$$t.log || tail -2 build/fuzz/fuzz_$$t.log; \
	done

BENCH_BIN := $(patsubst bench/%.c,$(BUILD)/%,$(wildcard bench/bench_*.c))
$(BUILD)/bench_%: bench/bench_%.c $(BUILD)/libmille.a
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(BUILD)/libmille.a $(LDLIBS)

# The README's main job: train on the bundled sample, score it, parse a few utterances.
demo: $(NEED_DEPS)
	$(MAKE) all
	sh tools/demo.sh

bench: all $(BENCH_BIN)
	MASSIVE=$(MASSIVE) BUILD=$(BUILD) sh bench/run.sh

# make install [PREFIX=/usr/local] [DESTDIR=]: the CLI, the header, the static and shared
# library (with its soname links) and a pkg-config file.
PREFIX   ?= /usr/local
# where `mille predict` and `mille serve` look for the shipped model when given none
$(BUILD)/cli/main.o: CPPFLAGS += -DMILLE_DATADIR='"$(PREFIX)/share"'
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/include \
	  $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 755 $(BUILD)/mille $(DESTDIR)$(PREFIX)/bin/mille
	install -m 644 include/mille.h $(DESTDIR)$(PREFIX)/include/mille.h
	install -m 644 include/mille_dialogue.h $(DESTDIR)$(PREFIX)/include/mille_dialogue.h
	if [ -f models/mille.model ]; then install -d $(DESTDIR)$(PREFIX)/share/mille && \
	  install -m 644 models/mille.model $(DESTDIR)$(PREFIX)/share/mille/mille.model; fi
	install -m 644 $(BUILD)/libmille.a $(DESTDIR)$(PREFIX)/lib/libmille.a
	install -m 644 $(BUILD)/libmille_dialogue.a $(DESTDIR)$(PREFIX)/lib/libmille_dialogue.a
	install -m 755 $(BUILD)/libmille.so $(DESTDIR)$(PREFIX)/lib/libmille.so.$(VERSION)
	ln -sf libmille.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libmille.so.$(SOMAJOR)
	ln -sf libmille.so.$(SOMAJOR) $(DESTDIR)$(PREFIX)/lib/libmille.so
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' \
	  -e 's|@LIBS_PRIVATE@|$(strip $(LDLIBS))|' tools/mille.pc.in \
	  > $(DESTDIR)$(PREFIX)/lib/pkgconfig/mille.pc

# install into a temporary prefix and build + run examples/ against it
install-test:
	sh tests/install_test.sh

# The best zero-shot model (docs/zeroshot.md): make zeroshot OUT=path [MASSIVE=dir]
zeroshot: all
	@[ -n "$(OUT)" ] || { echo "usage: make zeroshot OUT=path" >&2; exit 2; }
	MASSIVE=$(MASSIVE) BUILD=$(BUILD) sh tools/zeroshot.sh $(OUT) both

# The shipped model, end to end: make model [OUT=build/model] [MASSIVE=dir]
model: all
	MASSIVE=$(MASSIVE) BUILD=$(BUILD) sh tools/model.sh $(or $(OUT),build/model)

lint:
	sh tools/lint.sh

# Training over MPI (docs/mpi.md): only the binary links OpenMPI (libopenmpi-dev), found by
# pkg-config or mpicc; MPI=0 builds without it. Its headers are system headers (-isystem).
MPI      ?= $(shell pkg-config --exists ompi-c 2>/dev/null && echo 1 || (mpicc --showme:compile >/dev/null 2>&1 && echo 1) || echo 0)
ifeq ($(MPI),1)
MPI_INC  := $(patsubst -I%,-isystem %,$(shell pkg-config --cflags ompi-c 2>/dev/null || mpicc --showme:compile))
MPI_LIBS := $(shell pkg-config --libs ompi-c 2>/dev/null || mpicc --showme:link)
$(BUILD)/cli/mpi_comm.o: CPPFLAGS += -DMILLE_MPI $(MPI_INC)
endif
# 2 processes train byte for byte what 1 does, resume with another count, stop together
.PHONY: mpi-test
mpi-test: all
	MILLE=$(BUILD)/mille sh tests/mpi_test.sh

# The playground page in headless Chromium (apt-get install chromium chromium-driver):
# types utterances, checks what it shows against POST /v1/parse, saves a screenshot.
.PHONY: browser-test
browser-test: all
	python3 tests/browser/playground_test.py --mille $(BUILD)/mille --screenshot $(BUILD)/playground.png
	python3 tests/browser/report_test.py --mille $(BUILD)/mille

clean:
	rm -rf build

# make deps: install the missing packages (apt-get as root, sudo otherwise; tools/deps.sh).
# make demo and make test run it first when a package is missing (NEED_DEPS, set at the top)
# and build through a second make, which reads the pkg-config
# flags after the install.
.PHONY: deps
deps:
	sh tools/deps.sh

-include $(DEPS)

# ---- mille-voice (voice/, docs/voice.md): a separate program on the public header only, with
# its own dependencies (pocketsphinx, libsndfile, SQLite; flite and espeak-ng run as programs).
VOICE_SRC  := $(sort $(wildcard voice/*.c))
VOICE_OBJ  := $(VOICE_SRC:%.c=$(BUILD)/%.o)
VOICE_PKG  := pocketsphinx sphinxbase sndfile
$(VOICE_OBJ): CPPFLAGS := -Iinclude $(shell pkg-config --cflags $(VOICE_PKG) 2>/dev/null)
$(BUILD)/mille-voice: $(VOICE_OBJ) $(BUILD)/libmille.a $(BUILD)/libmille_dialogue.a
	$(CC) $(LDFLAGS) -o $@ $(VOICE_OBJ) $(DLG_LINK) $(BUILD)/libmille.a \
	  $(shell pkg-config --libs $(VOICE_PKG) 2>/dev/null) $(LDLIBS)
all: $(BUILD)/mille-voice
DEPS += $(VOICE_OBJ:.o=.d)
# a pocketsphinx language model + dictionary from MASSIVE en-US train text (tools/voice_lm.py)
VOICE_LM := $(BUILD)/voice/massive-en-us
.PHONY: voice-lm voice-test voice-bench
voice-lm: $(VOICE_LM).arpa
$(VOICE_LM).arpa: tools/voice_lm.py
	@mkdir -p $(dir $@)
	python3 tools/voice_lm.py --massive $(MASSIVE) --out $(VOICE_LM)
# unit tests of the modules (tests/voice/), then the program end to end (tests/voice_test.sh)
VOICE_TEST_OBJ := $(BUILD)/tests/voice/test_voice.o $(BUILD)/tests/harness.o \
                  $(filter-out $(BUILD)/voice/main.o,$(VOICE_OBJ))
$(BUILD)/tests/voice/test_voice.o: CPPFLAGS := -Iinclude -Itests -Ivoice
$(BUILD)/test_voice: $(VOICE_TEST_OBJ) $(BUILD)/libmille.a $(BUILD)/libmille_dialogue.a
	$(CC) $(LDFLAGS) -o $@ $(VOICE_TEST_OBJ) $(DLG_LINK) $(BUILD)/libmille.a \
	  $(shell pkg-config --libs $(VOICE_PKG) 2>/dev/null) $(LDLIBS)
voice-test: $(BUILD)/mille-voice $(BUILD)/test_voice voice-lm
	$(BUILD)/test_voice $(VT)
	MILLE_VOICE=$(BUILD)/mille-voice VOICE_LM=$(VOICE_LM) sh tests/voice_test.sh
	python3 tests/wyoming_test.py --voice $(BUILD)/mille-voice --lm $(VOICE_LM)
voice-bench: $(BUILD)/mille-voice $(BUILD)/mille voice-lm
	MILLE_VOICE=$(BUILD)/mille-voice MILLE=$(BUILD)/mille VOICE_LM=$(VOICE_LM) MASSIVE=$(MASSIVE) sh bench/voice_bench.sh

# The Wyoming server (voice/wyoming.c: a thread per connection) under ThreadSanitizer, driven
# by tests/wyoming_test.py (parallel clients included); a race stops the server and fails it.
.PHONY: wyoming-tsan
wyoming-tsan:
	$(MAKE) BUILD=build/tsan OPT="-O1 -g" SAN="-fsanitize=thread" build/tsan/mille-voice voice-lm
	TSAN_OPTIONS=halt_on_error=1 python3 tests/wyoming_test.py --voice build/tsan/mille-voice \
	  --lm build/voice/massive-en-us

# ---- the dialogue library (dialogue/, include/mille_dialogue.h, docs/dialogue.md): dialogue,
# sessions, skills and templates on the public header only, linked by mille-voice and by
# `mille serve` (POST /v1/dialogue). Its own dependencies: SQLite (skill state, sessions) and
# libcurl (webhooks); the response table is embedded (build/gen/responses.c).
DLG_SRC    := $(sort $(wildcard dialogue/*.c))
DLG_OBJ    := $(DLG_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/responses.o
DLG_PKG    := sqlite3 libcurl
DLG_LIBS   := $(shell pkg-config --libs $(DLG_PKG) 2>/dev/null || echo -lsqlite3 -lcurl)
DLG_LINK    = $(BUILD)/libmille_dialogue.a $(DLG_LIBS)
$(DLG_OBJ): CPPFLAGS := -Iinclude -Idialogue $(shell pkg-config --cflags icu-uc $(DLG_PKG) 2>/dev/null)
$(BUILD)/gen/responses.c: dialogue/responses.tsv tools/embed.sh
	@mkdir -p $(dir $@)
	sh tools/embed.sh mille_dialogue_responses_tsv $< > $@.tmp && mv $@.tmp $@
$(BUILD)/gen/responses.o: $(BUILD)/gen/responses.c
	$(CC) $(CFLAGS) -c $< -o $@
$(BUILD)/libmille_dialogue.a: $(DLG_OBJ)
	rm -f $@ && ar rcs $@ $^
all: $(BUILD)/libmille_dialogue.a
-include $(DLG_OBJ:.o=.d)
# the unit tests of the library (tests/test_dialogue.c) see its internal header
$(BUILD)/tests/test_dialogue.o: CPPFLAGS += -Idialogue
