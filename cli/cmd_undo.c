/* cmd_undo.c - `octet undo`: restore the files the latest `octet apply` (or
 * `octet refactor`) changed, after showing what that does; refused when
 * the files changed since, unless --force. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "patch.h"

static const char USAGE[] =
    "Usage: octet undo [--yes] [--force] [--repo DIR] [--color WHEN]\n"
    "\n"
    "Restore the previous contents of the files changed by the latest patch octet\n"
    "applied in this repository (records are kept in .git/octet/undo/, newest\n"
    "first: run it again to undo the one before). The change is shown first and\n"
    "made after confirmation. Refused when a file changed since the patch was\n"
    "applied, unless --force. A change octet committed (apply/refactor --commit) is\n"
    "taken back too: HEAD moves to the commit's parent, if the commit is still HEAD\n"
    "(else nothing is restored: use git revert).\n"
    "\n"
    "  -y, --yes      undo without asking (needed when standard input is not a terminal)\n"
    "  --force        restore even files that changed since the patch was applied\n"
    "  --repo DIR     a directory inside the repository (default .)\n"
    "  --color WHEN   auto (on a terminal), always or never; default: the settings file's\n"
    "                 colors, else auto\n"
    "  -h, --help     show this help\n"
    "\n"
    "Exit status: 0 undone, 1 nothing to undo, refused, declined or failed, 2 usage.\n";

enum { OPT_FORCE = 1000, OPT_REPO, OPT_COLOR };

int cmd_undo(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"yes", no_argument, NULL, 'y'},         {"force", no_argument, NULL, OPT_FORCE},
        {"repo", required_argument, NULL, OPT_REPO}, {"color", required_argument, NULL, OPT_COLOR},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    const char *repo = ".", *color_arg = NULL;
    bool yes = false, force = false;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "yh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'y':
            yes = true;
            break;
        case OPT_FORCE:
            force = true;
            break;
        case OPT_REPO:
            repo = optarg;
            break;
        case OPT_COLOR:
            if (cli_check_color("undo", optarg))
                return CLI_EXIT_USAGE;
            color_arg = optarg;
            break;
        case 'h':
            fputs(USAGE, stdout);
            return CLI_EXIT_OK;
        default:
            return cli_usage("undo", "unknown option");
        }
    }
    if (optind < argc)
        return cli_usage("undo", "unexpected argument '%s'", argv[optind]);
    bool color = cli_use_color(color_arg);

    patch_undo_t *u = NULL, *done = NULL;
    char *shown = NULL;
    errmsg_t err = {0};
    int rc;
    if (patch_undo_peek(repo, &u, &err)) {
        rc = cli_fail_err("undo", &err);
        goto out;
    }
    printf("undo record %s, applied %s: %s\n", u->id, u->created, u->summary);
    for (size_t i = 0; i < u->n_files; i++) {
        const patch_undo_file_t *f = &u->files[i];
        printf("  %-8s %s%s\n", !f->existed ? "remove" : !f->exists ? "restore" : "revert", f->path,
               f->changed ? "  (changed since the patch was applied)" : "");
    }
    if (u->n_changed && !force) {
        rc = cli_fail("undo", "%zu file%s changed since the patch was applied: nothing was restored (use --force "
                              "to restore the previous contents anyway)",
                      u->n_changed, u->n_changed == 1 ? "" : "s");
        goto out;
    }
    if (!yes || isatty(STDOUT_FILENO)) {
        if (!(shown = patch_colorize(u->diff, color))) {
            rc = cli_fail("undo", "out of memory");
            goto out;
        }
        fputs(shown, stdout);
    }
    fflush(stdout);
    if (!yes) {
        if (!isatty(STDIN_FILENO)) {
            rc = cli_fail("undo", "standard input is not a terminal: use --yes to undo without confirmation; "
                                  "nothing was restored");
            goto out;
        }
        if (!cli_confirm("Restore these files?")) {
            rc = cli_fail("undo", "not undone");
            goto out;
        }
    }
    if (patch_undo(repo, force, &done, &err)) {
        rc = cli_fail_err("undo", &err);
        goto out;
    }
    printf("restored %zu file%s", done->n_files, done->n_files == 1 ? "" : "s");
    if (done->commit)
        printf(" and took back commit %.12s (HEAD is its parent again)", done->commit);
    if (done->depth)
        printf(" (%zu earlier patch%s can still be undone)", done->depth, done->depth == 1 ? "" : "es");
    printf("\n");
    rc = CLI_EXIT_OK;
out:
    free(shown);
    patch_undo_free(done);
    patch_undo_free(u);
    return rc;
}
