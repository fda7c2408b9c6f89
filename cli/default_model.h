/* default_model.h - where octet finds its embedded default model; shared by
 * the command line and the TUI (kept apart from cli.h, whose cmd_* names the
 * TUI's own command handlers would clash with). */
#ifndef OCTET_DEFAULT_MODEL_H
#define OCTET_DEFAULT_MODEL_H

/* The embedded default model: $OCTET_MODEL when set, else models/octet-code.gguf
 * next to the octet binary (or one level up, for builds in a subdirectory).
 * OCTET_MODEL set to "" means no default. Returns a static path, or NULL. */
const char *cli_default_model(void);

#endif
