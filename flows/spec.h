/* spec.h - functions from specifications: the spec file (JSON, documented in
 * docs/specs.md), its validation, the verification of code against it
 * (compile, then run each example in a sandbox), the prompts that ask a
 * model for the function, the extraction of the code from the model's reply
 * and the generate-check-retry loop. Used by `octet gen`, `octet check` and
 * the TUI's /spec; nothing here prints.
 *
 * Types: int (32-bit), long (64-bit, values within +-2^53 in examples),
 * double, bool, string, and list[T] of any of those. Their Python and C forms
 * (a list input is a pointer and a length in C) are in docs/specs.md. */
#ifndef OCTET_SPEC_H
#define OCTET_SPEC_H

#include <stdbool.h>
#include <stddef.h>

#include "chat.h"
#include "errmsg.h"
#include "llm.h"
#include "pin.h"
#include "sample.h"

struct cJSON;

typedef enum spec_lang {
    SPEC_LANG_PYTHON,
    SPEC_LANG_C,
} spec_lang_t;

typedef enum spec_base {
    SPEC_T_INT,
    SPEC_T_LONG,
    SPEC_T_DOUBLE,
    SPEC_T_BOOL,
    SPEC_T_STRING,
} spec_base_t;

typedef struct spec_type {
    spec_base_t base;
    bool list; /* list[base] */
} spec_type_t;

typedef struct spec_param {
    char *name;
    spec_type_t type;
    char *description; /* may be NULL */
} spec_param_t;

typedef struct spec_example {
    const struct cJSON *input;  /* array of n_inputs values, checked against the types */
    const struct cJSON *output; /* checked against the output type */
} spec_example_t;

typedef struct spec {
    char *source; /* the file name (or label) errors start with */
    spec_lang_t lang;
    char *name;
    char *description;
    spec_param_t *inputs;
    size_t n_inputs;
    spec_type_t output;
    char *output_description; /* may be NULL */
    spec_example_t *examples;
    size_t n_examples;
    struct cJSON *json; /* the parsed document the examples point into */
} spec_t;

/* Parse and validate LEN bytes of JSON. SOURCE names the input in messages,
 * which name the field: "add.json: examples[2].input: expected an array of
 * 2 values (the function takes 2 inputs), got 3". */
int spec_parse(spec_t **out, const char *text, size_t len, const char *source, errmsg_t *err);
/* spec_parse of the file PATH. */
int spec_load(spec_t **out, const char *path, errmsg_t *err);
void spec_free(spec_t *s);

const char *spec_lang_name(spec_lang_t l); /* "python", "c" */
/* "int", "list[double]"... -> type; -1 when not a type. */
int spec_type_parse(const char *s, spec_type_t *out);
/* The type as written in specs ("list[int]"); BUF of at least 16 bytes. */
const char *spec_type_name(spec_type_t t, char *buf, size_t size);

/* The function's signature in its language: "def add(a: int, xs: list[int]) -> int"
 * or "int add(int a, const int *xs, size_t xs_len)". Malloc'd. */
int spec_signature(const spec_t *s, char **out, errmsg_t *err);
/* "add(1, [2, 3])": a call with example I's inputs as JSON values. Malloc'd. */
int spec_example_call(const spec_t *s, size_t i, char **out, errmsg_t *err);

/* The test program octet check runs for S (Python or C source): PATHS are
 * the directories Python code may import from. Malloc'd. */
int spec_harness(const spec_t *s, char *const *paths, size_t n_paths, char **src, errmsg_t *err);

/* ---- the TUI's form ------------------------------------------------------ */

/* The fields of a spec as typed in a form: inputs as "a: int, xs: list[int]",
 * examples one per line as "ARGS -> OUTPUT" with ARGS and OUTPUT in JSON
 * ("1, [2, 3] -> 6"). */
typedef struct spec_form {
    const char *language, *name, *inputs, *output, *description, *examples;
} spec_form_t;

/* The spec JSON text for a form (pretty-printed, malloc'd), validated with
 * spec_parse; errors name the form field ("inputs: 'x int': expected NAME: TYPE",
 * "examples line 2: ..."). */
int spec_form_json(const spec_form_t *f, char **json, errmsg_t *err);

/* ---- checking code ------------------------------------------------------- */

typedef struct spec_check_opts {
    double timeout_s;   /* per run of an example (default 5) */
    double compile_timeout_s; /* the compiler / byte-compilation (default 60) */
    long mem_mb;        /* address-space limit per run (default SANDBOX_DEFAULT_MEM_MB) */
    const char *cc;     /* C compiler (default "cc") */
    const char *python; /* Python interpreter (default "python3") */
    const char *const *include_dirs; /* extra -I directories for C */
    size_t n_include_dirs;
    bool unsafe_sandbox; /* run even when the kernel refuses a layer of the sandbox (sandbox.h) */
} spec_check_opts_t;

void spec_check_opts_default(spec_check_opts_t *o);

typedef enum spec_outcome {
    SPEC_OK,       /* passed */
    SPEC_MISMATCH, /* returned another value */
    SPEC_ERROR,    /* raised an exception / the function is missing / bad return */
    SPEC_TIMEOUT,  /* killed at the time limit */
    SPEC_CRASH,    /* died of a signal or exited without a result */
} spec_outcome_t;

typedef struct spec_report {
    bool compiled;      /* compilation (or byte-compilation) succeeded */
    bool passed;        /* compiled and every example passed */
    size_t n_passed, n_failed;
    spec_outcome_t *outcomes; /* per example (n_examples); NULL when not compiled */
    char *text;         /* the report for the user: one line per example, details of failures */
    char *feedback;     /* the failures in short, for the model's next attempt ("" when passed) */
    char isolation[512]; /* how the runs were confined (sandbox_isolation) */
    bool confined;      /* Landlock was in force */
} spec_report_t;

/* Verify LEN bytes of CODE against S: byte-compile (Python) or compile with
 * the system compiler (C), then run every example in a fresh process inside
 * a sandbox (sandbox.h) with the time limit. CODE_DIR is where the code
 * lives (C include paths and Python's import path start there; NULL: the
 * current directory); DISPLAY names it in messages ("add.py"). Returns 0
 * when the check ran, whatever its verdict (see rep->passed), OCT_E* when it
 * could not run (no compiler, no temporary directory...). */
int spec_check(const spec_t *s, const char *code, size_t len, const char *code_dir, const char *display,
               const spec_check_opts_t *o, spec_report_t *rep, errmsg_t *err);
void spec_report_free(spec_report_t *rep);

/* The -I directories used for C code in CODE_DIR, in order (see
 * docs/specs.md): CODE_DIR, CODE_DIR/include, CODE_DIR/../include, the
 * repository root above CODE_DIR (the nearest directory with .git), ROOT/include,
 * ROOT/src, then EXTRA; only existing directories, each once. *dirs is a
 * malloc'd array of malloc'd strings (free with spec_dirs_free). */
int spec_include_dirs(const char *code_dir, const char *const *extra, size_t n_extra, char ***dirs, size_t *n,
                      errmsg_t *err);
void spec_dirs_free(char **dirs, size_t n);

/* ---- generation ---------------------------------------------------------- */

/* The chat request for a spec: a system message and the task; with
 * PREV_REPLY and PREV_ERROR (both or neither) the previous answer and why it
 * failed follow as an assistant turn and a user turn. CONTEXT (may be NULL)
 * is retrieved repository code, already packed. Fills MSGS[0..*n) with
 * malloc'd contents (free with spec_msgs_free); MSGS holds at least 4. */
int spec_prompt_chat(const spec_t *s, const char *context, const char *prev_reply, const char *prev_error,
                     chat_msg_t *msgs, size_t *n, errmsg_t *err);
void spec_msgs_free(chat_msg_t *msgs, size_t n);

/* The plain-completion prompt for a model without a chat template: CONTEXT
 * and the spec as comments, PREV_ERROR (may be NULL) as a comment, then the
 * start of the function (for C the includes, signature and '{'; for Python
 * the def line, the docstring and three spaces of the body's first line,
 * whose fourth a byte-level BPE model writes with its first token), which
 * the model continues. *head is that
 * start of the function, which spec_extract_code puts back. Malloc'd. */
int spec_prompt_completion(const spec_t *s, const char *context, const char *prev_error, char **prompt,
                           char **head, errmsg_t *err);

/* The code in a model's reply. Chat replies: the first fenced block in the
 * spec's language (```python / ```py / ```c), else the first fenced block
 * that defines the function, else the first one; an unterminated fence runs
 * to the end; without fences the reply itself when it defines the function.
 * Completions (HEAD not NULL): HEAD + the reply up to the end of the
 * function (Python: the first line that is not indented, the reply's first
 * line counting as indented when HEAD ends with spaces; C: the
 * brace that closes the body). OCT_ENOTFOUND with a message for the model
 * when there is no code. */
int spec_extract_code(const spec_t *s, const char *reply, const char *head, char **code, errmsg_t *err);

/* True when a reply in progress is finished for extraction purposes: a
 * chat reply whose first code block is closed, or a completion whose
 * function has ended. Generation can stop there. */
bool spec_reply_complete(const spec_t *s, const char *reply, bool completion);

/* The repository code for a spec's prompt: the pins ADDS[0..N_ADDS) (as
 * pin_add takes them, relative paths from the current directory), then the
 * chunks of the git repository around DIR most relevant to QUERY (k of
 * them; QUERY NULL: none), updated index first, hybrid with the retrieval
 * encoder when there is one and every chunk has its vector (not with
 * LEXICAL; see encoder.h), packed by pin_pack into BUDGET tokens counted
 * with COUNT (NULL: estimated); out->text is the context ("" when nothing
 * matched). MODE (MODE_N bytes, may be NULL) says how it retrieved.
 * Outside a git repository the pins alone, or OCT_ENOTFOUND without any. A
 * bad --add is OCT_EINVAL or OCT_ENOTFOUND naming it. Free OUT with
 * pin_ctx_free. */
int spec_repo_context(const char *dir, const char *query, bool lexical, size_t k, char *const *adds, size_t n_adds,
                      size_t budget, size_t (*count)(const char *text, size_t len, void *ud), void *ud,
                      pin_ctx_t *out, char *mode, size_t mode_n, errmsg_t *err);
/* The retrieval query for a spec: its name, input names and description. Malloc'd. */
char *spec_query(const spec_t *s);

typedef struct spec_gen_opts {
    int attempts;           /* 1 + retries */
    bool check;             /* verify each attempt with spec_check */
    const char *context;    /* packed repository context; may be NULL */
    const char *code_dir;   /* for spec_check */
    const spec_check_opts_t *check_opts;
    /* Called after each attempt (may be NULL): attempt number from 1, the
     * model's reply, the code extracted (NULL when none), the check report
     * (NULL without --check or when nothing was extracted), and the error
     * fed back to the model ("" when the attempt succeeded). */
    void (*on_attempt)(void *ud, int attempt, const char *reply, const char *code, const spec_report_t *rep,
                       const char *error);
    void *ud;
} spec_gen_opts_t;

typedef struct spec_gen_result {
    char *code;      /* the last code extracted (NULL when none was) */
    bool ok;         /* code extracted and, with check, passed */
    int attempts;    /* attempts made */
    char *last_error; /* why the last attempt failed; NULL when ok */
} spec_gen_result_t;

/* Ask LLM for S's function up to o->attempts times, feeding each failure
 * (no code in the reply, compile error, failed examples) back into the next
 * prompt. Returns 0 when the loop ran (see res->ok), OCT_E* when generation
 * or checking could not run. */
int spec_gen(const spec_t *s, const llm_t *llm, const spec_gen_opts_t *o, spec_gen_result_t *res,
             errmsg_t *err);
void spec_gen_result_free(spec_gen_result_t *res);

#endif
