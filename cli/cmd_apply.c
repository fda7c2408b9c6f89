/* cmd_apply.c - `octet apply`: apply a unified diff, or search/replace
 * blocks turned into one, to the git working tree after checking it,
 * showing it and asking for confirmation; all files or none, with an undo
 * record for `octet undo`. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blocks.h"
#include "cli.h"
#include "config.h"
#include "patch.h"

static const char USAGE[] =
    "Usage: octet apply --patch FILE [--yes] [--force] [--check] [--[no-]commit] [--repo DIR] [--color WHEN]\n"
    "\n"
    "Apply a unified diff to the working tree of the git repository: git's format, or a\n"
    "plain one (diff -u, diff -ru DIR1 DIR2, --- a/x +++ b/x without diff --git lines).\n"
    "A hunk whose lines moved is found by its context near its stated line (exact, then\n"
    "ignoring trailing blanks, anywhere in the file; the move is reported); a hunk that\n"
    "matches at two places equally near, or nowhere, is refused.\n"
    "A file with <<<<<<< SEARCH lines holds search/replace blocks instead (a path, then\n"
    "<<<<<<< SEARCH, lines of the file, =======, their replacement, >>>>>>> REPLACE): each\n"
    "SEARCH must be in its file once, exactly or with another indentation (the replacement\n"
    "is then re-indented); an empty SEARCH creates a new file. They become a diff.\n"
    "The patch is checked\n"
    "against the working tree (every hunk must apply) and refused when a file it\n"
    "touches has changes that are not committed; then it is shown and,\n"
    "after confirmation, applied to all files or to none. What it changed is recorded\n"
    "so that 'octet undo' restores the previous contents.\n"
    "\n"
    "  --patch FILE   the diff or blocks, a regular file of at most 64 MiB ('-': standard input, which\n"
    "                 then needs --yes)\n"
    "  -y, --yes      apply without asking (needed when standard input is not a terminal)\n"
    "  --force        apply even to files with uncommitted changes\n"
    "  --check        only check that the patch applies and show it; change nothing\n"
    "  --commit       commit the change (only the files it touched; message: the patch's\n"
    "                 name and its summary; author from git config); 'octet undo' takes it back;\n"
    "                 the default with 'commit = true' in the settings file (octet(1) FILES)\n"
    "  --no-commit    do not commit, whatever the settings file says\n"
    "  --repo DIR     a directory inside the repository (default .)\n"
    "  --color WHEN   auto (on a terminal), always or never; default: the settings file's\n"
    "                 colors, else auto\n"
    "  -h, --help     show this help\n"
    "\n"
    "Exit status: 0 applied (or applies, with --check), 1 refused, declined or failed, 2 usage.\n";

enum { OPT_PATCH = 1000, OPT_FORCE, OPT_CHECK, OPT_REPO, OPT_COLOR, OPT_COMMIT, OPT_NO_COMMIT };

int cmd_apply(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"patch", required_argument, NULL, OPT_PATCH}, {"yes", no_argument, NULL, 'y'},
        {"force", no_argument, NULL, OPT_FORCE},       {"check", no_argument, NULL, OPT_CHECK},
        {"repo", required_argument, NULL, OPT_REPO},   {"color", required_argument, NULL, OPT_COLOR},
        {"commit", no_argument, NULL, OPT_COMMIT},     {"no-commit", no_argument, NULL, OPT_NO_COMMIT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *patch_path = NULL, *repo = ".", *color = NULL;
    bool yes = false, force = false, check_only = false, commit = config_get()->commit;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "yh", longopts, NULL)) != -1) {
        switch (opt) {
        case OPT_PATCH:
            patch_path = optarg;
            break;
        case 'y':
            yes = true;
            break;
        case OPT_FORCE:
            force = true;
            break;
        case OPT_CHECK:
            check_only = true;
            break;
        case OPT_COMMIT:
        case OPT_NO_COMMIT:
            commit = opt == OPT_COMMIT;
            break;
        case OPT_REPO:
            repo = optarg;
            break;
        case OPT_COLOR:
            if (cli_check_color("apply", optarg))
                return CLI_EXIT_USAGE;
            color = optarg;
            break;
        case 'h':
            fputs(USAGE, stdout);
            return CLI_EXIT_OK;
        default:
            return cli_usage("apply", "unknown option");
        }
    }
    if (optind < argc)
        return cli_usage("apply", "unexpected argument '%s'", argv[optind]);
    if (!patch_path)
        return cli_usage("apply", "no patch given: use --patch FILE");
    bool from_stdin = !strcmp(patch_path, "-");
    if (from_stdin && !yes && !check_only)
        return cli_usage("apply", "a patch read from standard input needs --yes (there is no terminal to ask)");

    char *text = NULL, *shown = NULL, *summary = NULL, *norm = NULL, *notes = NULL;
    size_t len = 0;
    patch_t *p = NULL;
    blocks_t *bl = NULL;
    errmsg_t err = {0};
    int rc;
    if (!from_stdin && cli_check_regular(patch_path, &err))
        return cli_fail_err("apply", &err);
    FILE *f = from_stdin ? stdin : fopen(patch_path, "rb");
    if (!f)
        return cli_fail("apply", "%s: cannot open", patch_path);
    rc = cli_read_max(f, CLI_PATCH_MAX, &text, &len, &err);
    if (!from_stdin)
        fclose(f);
    if (rc) {
        rc = cli_fail("apply", "%s: %s", patch_path, err.msg);
        goto done;
    }
    const char *src = from_stdin ? "stdin" : patch_path;
    bool git_format = strstr(text, "diff --git ") != NULL;
    if (blocks_detect(text, len)) {
        /* search/replace blocks: made into a diff of the work tree, then checked as any patch */
        if (blocks_parse(&bl, text, len, src, &err) || blocks_diff(bl, repo, &norm, &notes, &err) ||
            patch_parse(&p, norm, strlen(norm), src, &err) || patch_check(p, repo, force, &err)) {
            rc = cli_fail("apply", "%s; nothing was changed", err.msg);
            goto done;
        }
        cli_put_notes(notes);
    } else if (!git_format || patch_parse(&p, text, len, src, &err) == 0) {
        /* a plain diff, or hunks a few lines off: located by their context, as git apply and patch do */
        if (git_format && patch_check(p, repo, force, &err) == 0)
            goto checked;
        patch_free(p);
        p = NULL;
        if (patch_normalize(text, len, src, repo, &norm, &notes, &err) ||
            patch_parse(&p, norm, strlen(norm), src, &err) || patch_check(p, repo, force, &err)) {
            rc = cli_fail("apply", "%s; nothing was changed", err.msg);
            goto done;
        }
        cli_put_notes(notes);
    } else {
        rc = cli_fail("apply", "%s; nothing was changed", err.msg);
        goto done;
    }
checked:
    if (!(summary = patch_summary(p))) {
        rc = cli_fail("apply", "out of memory");
        goto done;
    }
    if (!yes || check_only || isatty(STDOUT_FILENO)) {
        if (!(shown = patch_colorize(patch_text(p), cli_use_color(color)))) {
            rc = cli_fail("apply", "out of memory");
            goto done;
        }
        fputs(shown, stdout);
        const char *t = patch_text(p);
        size_t tl = strlen(t);
        if (tl && t[tl - 1] != '\n')
            putchar('\n');
    }
    if (check_only) {
        printf("the patch applies cleanly: %s\n", summary);
        rc = CLI_EXIT_OK;
        goto done;
    }
    printf("%s\n", summary);
    fflush(stdout);
    if (!yes) {
        if (!isatty(STDIN_FILENO)) {
            rc = cli_fail("apply", "standard input is not a terminal: use --yes to apply without confirmation; "
                                   "nothing was changed");
            goto done;
        }
        if (!cli_confirm("Apply this patch?")) {
            rc = cli_fail("apply", "not applied");
            goto done;
        }
    }
    rc = cli_apply_patch("apply", p, repo, force, commit, strrchr(src, '/') ? strrchr(src, '/') + 1 : src, summary);
done:
    free(summary);
    free(shown);
    patch_free(p);
    blocks_free(bl);
    free(norm);
    free(notes);
    free(text);
    return rc;
}
