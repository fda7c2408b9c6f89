/* pending.h - the UI side of the TUI's workflows that needs no screen: the
 * arguments of /refactor, and the patch /refactor proposed waiting for the
 * user's answer to "apply it?", applied through flows/patch.h (checked, all
 * files or none, undoable with /undo) or discarded. No ncurses. */
#ifndef OCTET_TUI_PENDING_H
#define OCTET_TUI_PENDING_H

#include <stdbool.h>
#include <stddef.h>

#include "errmsg.h"
#include "patch.h"

/* Split the arguments of `/refactor INSTRUCTION [--path P | --symbol S]
 * [--force]` (ARGS, modified in place: words may be quoted with " or '):
 * the options anywhere (*path, *symbol point into ARGS, or are NULL;
 * *force: --force was given), the other words joined by single spaces into
 * INSTR, which has room for strlen(ARGS) + 1 bytes. 0, or OCT_EINVAL with
 * the usage problem in ERR. */
int tui_refactor_args(char *args, char *instr, const char **path, const char **symbol, bool *force, errmsg_t *err);

/* A patch shown to the user, waiting for y or n. */
typedef struct tui_pending {
    patch_t *patch; /* NULL: nothing pending */
    char *repo;
    char *summary; /* "1 file changed, 1 insertion(+), 1 deletion(-)" */
    bool force;    /* /refactor --force: files with uncommitted changes too */
    char *commit;  /* commit the applied change with this instruction in its message; NULL: do not */
} tui_pending_t;

/* Hold DIFF for the repository containing REPO_DIR (parsed now, so what is
 * asked about is what will be applied); replaces what was pending. With
 * COMMIT_INSTR (the settings file's `commit = true`), the change is
 * committed once applied, as `octet refactor --commit` does. */
int tui_pending_set(tui_pending_t *p, const char *diff, const char *repo_dir, bool force, const char *commit_instr,
                    errmsg_t *err);
bool tui_pending_active(const tui_pending_t *p);
/* The user's answer. YES: apply the patch (unless forced, a file with
 * uncommitted changes, or one the patch no longer applies to, is refused
 * and nothing changes); *report (malloc'd) says what changed and how to
 * undo it (and the commit made, with p->commit). NO: discard it; *report says nothing was changed. Either way
 * nothing is pending afterwards. 0, or OCT_E* with ERR when the apply was
 * refused or failed. */
int tui_pending_answer(tui_pending_t *p, bool yes, char **report, errmsg_t *err);
void tui_pending_clear(tui_pending_t *p);

#endif
