/* fuzz_patch.c - libFuzzer harness for the patch parser (libgit2's
 * git_diff_from_buffer behind octet's own checks): patch_parse on the input
 * and, when it is accepted, the file list, summary and coloring; the same
 * bytes as a model's reply (patch_extract, whose output is parsed again).
 * Nothing touches a repository. It aborts when a promise is broken: an
 * error is one line naming the input, an accepted patch has at least one
 * file with a safe relative path. tests/unit/flows/test_patch_fuzz.c #includes this
 * file to replay the corpus and the regressions in `make test`. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "patch.h"

#define FUZZ_NAME "fuzz.diff"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_require(int cond)
{
    if (!cond)
        abort();
}

/* Relative, without '.', '..' or .git components. */
static int fuzz_safe_path(const char *path)
{
    if (!path[0] || path[0] == '/')
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

static void fuzz_check_parse(const char *text, size_t len, const char *name)
{
    patch_t *p = NULL;
    errmsg_t err = {0};
    int rc = patch_parse(&p, text, len, name, &err);
    if (rc) {
        fuzz_require(p == NULL && rc < 0 && err.code == rc);
        fuzz_require(strncmp(err.msg, name, strlen(name)) == 0 && strchr(err.msg, '\n') == NULL);
        return;
    }
    size_t n = patch_n_files(p);
    fuzz_require(n > 0 && patch_file(p, n) == NULL);
    for (size_t i = 0; i < n; i++) {
        const patch_file_t *f = patch_file(p, i);
        fuzz_require(f && (f->old_path || f->new_path));
        const char *paths[2] = {f->old_path, f->new_path};
        for (int k = 0; k < 2; k++)
            fuzz_require(!paths[k] || fuzz_safe_path(paths[k]));
    }
    char *s = patch_summary(p);
    fuzz_require(s != NULL && strstr(s, "changed"));
    free(s);
    s = patch_colorize(patch_text(p), true);
    fuzz_require(s != NULL);
    free(s);
    patch_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_check_parse((const char *)data, size, FUZZ_NAME);
    char *text = malloc(size + 1);
    fuzz_require(text != NULL);
    memcpy(text, data, size);
    text[size] = '\0';
    char *c = patch_colorize(text, true);
    fuzz_require(c != NULL);
    free(c);
    char *diff = NULL;
    errmsg_t err = {0};
    int rc = patch_extract(text, NULL, &diff, &err);
    if (rc == 0) {
        fuzz_require(diff != NULL);
        fuzz_check_parse(diff, strlen(diff), "extracted");
        free(diff);
    } else {
        fuzz_require(diff == NULL && err.msg[0] && strchr(err.msg, '\n') == NULL);
    }
    free(text);
    return 0;
}
