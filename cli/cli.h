/* cli.h - the headless command line: one cmd_* function per subcommand and
 * the small helpers they share (usage and runtime error reporting, reading
 * input). Usage errors exit 2 with a hint, runtime errors exit 1. */
#ifndef OCTET_CLI_H
#define OCTET_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "errmsg.h"
#include "patch.h"

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2

/* Subcommands: each gets argv with argv[0] == the subcommand name. */
int cmd_info(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_detokenize(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_ppl(int argc, char **argv);
int cmd_logits(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_index(int argc, char **argv);
int cmd_search(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_gen(int argc, char **argv);
int cmd_apply(int argc, char **argv);
int cmd_undo(int argc, char **argv);
int cmd_refactor(int argc, char **argv);
int cmd_serve(int argc, char **argv);

/* Print "octet CMD: MESSAGE" and a hint to stderr; returns CLI_EXIT_USAGE. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
int cli_usage(const char *cmd, const char *fmt, ...);

/* Print "octet CMD: MESSAGE" to stderr; returns CLI_EXIT_FAIL. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
int cli_fail(const char *cmd, const char *fmt, ...);

/* Print a library error; returns CLI_EXIT_FAIL. */
int cli_fail_err(const char *cmd, const errmsg_t *err);


/* Ask QUESTION [y/N] on stderr and read the answer from stdin: true only
 * when it starts with y. */
bool cli_confirm(const char *question);

/* S on stdout as a JSON string: quotes, backslashes and control characters
 * escaped, invalid UTF-8 replaced by U+FFFD. */
void cli_json_str(const char *s);

/* A byte count with an optional K or M suffix ("500000", "512K", "2M"),
 * positive and within size_t: 0, or -1 when S is not one. */
int cli_parse_size(const char *s, size_t *out);

/* Monotonic seconds, for the times commands report. */
double cli_now(void);

/* Read all of F into a NUL-terminated malloc'd buffer. 0 or OCT_E*. */
int cli_read_all(FILE *f, char **out, size_t *len, errmsg_t *err);
/* The same, refusing (OCT_ENOMEM, "larger than MAX bytes") input over MAX. */
int cli_read_max(FILE *f, size_t max, char **out, size_t *len, errmsg_t *err);

/* A further --add ARG when N of at most MAX are given: 0, or CLI_EXIT_USAGE
 * after printing what is wrong (too many, or empty). */
int cli_check_add(const char *cmd, size_t n, size_t max, const char *arg);

/* --color WHEN: 0 for auto, always and never, else CLI_EXIT_USAGE after
 * printing what is wrong. */
int cli_check_color(const char *cmd, const char *when);
/* Whether to color standard output for --color WHEN (NULL: the settings
 * file's colors, auto by default): auto means on a terminal that is not
 * "dumb", unless NO_COLOR is set. */
bool cli_use_color(const char *when);
/* Each line of NOTES (may be NULL) as "octet CMD: LINE" on stderr. */
void cli_print_notes(const char *cmd, const char *notes);

/* 0 when PATH is a regular file; checked through an O_NONBLOCK open, so a
 * FIFO is an error at once instead of a wait. */
int cli_check_regular(const char *path, errmsg_t *err);

/* Apply the checked patch P to REPO (FORCE: over uncommitted changes) and
 * say where its undo record is; with COMMIT, commit it too, with the
 * message "octet CMD: SUBJECT", a blank line and SUMMARY. CLI_EXIT_OK, or
 * CLI_EXIT_FAIL after printing the error. */
int cli_apply_patch(const char *cmd, const patch_t *p, const char *repo, bool force, bool commit, const char *subject,
                    const char *summary);

/* On stdout, what locating a patch's hunks or blocks noted (moves, loose
 * matches; NOTES may be NULL), as the model or file wrote it, made safe for
 * the terminal. */
void cli_put_notes(const char *notes);

/* The largest patch octet apply reads (a file or standard input). */
#define CLI_PATCH_MAX ((size_t)64 << 20)

#endif
