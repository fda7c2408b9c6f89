/* fuzz_blocks.c - libFuzzer harness for search/replace blocks
 * (flows/blocks.c): blocks_detect and blocks_complete_len on the input,
 * blocks_parse, and for every file it names blocks_edit on a missing file
 * and on the input itself as the file's text (the matcher, re-indentation
 * and line ends). Nothing touches a repository. It aborts when a promise is
 * broken: an error is one line naming the input and leaves no output, an
 * accepted input has at least one block and only safe relative paths, an
 * edit's length is its text's. tests/unit/flows/test_blocks_fuzz.c
 * #includes this file to replay the corpus and the regressions in
 * `make test`. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "blocks.h"

#define FUZZ_NAME "fuzz.txt"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_require(int cond)
{
    if (!cond)
        abort();
}

/* Relative, without '.', '..' or .git components, no blanks or controls. */
static int fuzz_safe_path(const char *path)
{
    if (!path[0] || path[0] == '/')
        return 0;
    for (const char *p = path; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return 0;
    for (const char *p = path; *p;) {
        size_t n = strcspn(p, "/");
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && !strncmp(p, "..", 2)) ||
            (n == 4 && !strncasecmp(p, ".git", 4)))
            return 0;
        p += n + (p[n] == '/');
    }
    return 1;
}

static void fuzz_check_error(int rc, const errmsg_t *err)
{
    fuzz_require(rc < 0 && err->code == rc && strchr(err->msg, '\n') == NULL);
    fuzz_require(rc == OCT_ENOMEM || strncmp(err->msg, FUZZ_NAME ":", strlen(FUZZ_NAME ":")) == 0);
}

static void fuzz_check_edit(const blocks_t *b, const char *path, const char *old, size_t old_len)
{
    char *out = NULL, *notes = NULL;
    size_t len = 0;
    errmsg_t err = {0};
    int rc = blocks_edit(b, path, old, old_len, &out, &len, &notes, &err);
    if (rc) {
        fuzz_check_error(rc, &err);
        fuzz_require(out == NULL && notes == NULL);
        return;
    }
    fuzz_require(old || out); /* a block for PATH exists: a missing file is created or refused */
    fuzz_require(!out || strlen(out) == len);
    fuzz_require(!notes || (notes[0] && notes[strlen(notes) - 1] == '\n'));
    free(out);
    free(notes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    int detected = blocks_detect(text, size);
    size_t keep = blocks_complete_len(text, size);
    fuzz_require(keep <= size);
    blocks_t *b = NULL;
    errmsg_t err = {0};
    int rc = blocks_parse(&b, text, size, FUZZ_NAME, &err);
    if (rc) {
        fuzz_check_error(rc, &err);
        fuzz_require(b == NULL);
        return 0;
    }
    fuzz_require(detected && keep == size);
    size_t n = blocks_n_files(b);
    fuzz_require(blocks_count(b) >= n && n > 0 && blocks_file(b, n) == NULL);
    for (size_t i = 0; i < n; i++) {
        const char *path = blocks_file(b, i);
        fuzz_require(path && fuzz_safe_path(path));
        fuzz_check_edit(b, path, NULL, 0);
        fuzz_check_edit(b, path, text, size);
    }
    blocks_free(b);
    return 0;
}
