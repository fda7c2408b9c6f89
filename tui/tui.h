/* tui.h - octet's terminal front end: `octet` with no subcommand (or with
 * options first) opens an ncurses chat over the current git repository,
 * with streaming answers, retrieved context, a memory gauge and presets.
 * See docs/tui.md. */
#ifndef OCTET_TUI_H
#define OCTET_TUI_H

/* argv[0] is the program name; `octet --tui-help` lists the options.
 * Returns the exit status: 0 after /quit, Ctrl-D or Ctrl-C twice, 1 on a
 * runtime error (no terminal, a malformed preset), 2 on a usage error. */
int tui_main(int argc, char **argv);

#endif
