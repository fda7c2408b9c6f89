/* termsafe.h - untrusted text (a model's reply, a patch, repository file
 * names and contents, a checked program's output) made safe to show on a
 * terminal: control characters become visible escapes, so that escape
 * sequences, carriage returns, backspaces, OSC titles or bidirectional
 * overrides cannot hide, rewrite or fake what is shown. One helper for every
 * front end (CLI and TUI). */
#ifndef OCTET_TERMSAFE_H
#define OCTET_TERMSAFE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The visible escape of code point CP, written to BUF (at least 12 bytes) and
 * returned: "\e" for ESC, "\r", "\b", "\x07" for other C0 controls and DEL,
 * "\u009b" for C1 controls, "\u202e" for bidirectional controls; NULL when
 * CP shows as itself (printable, newline, tab). */
const char *termsafe_cp(uint32_t cp, char *buf);

/* LEN bytes of S with every control character, bidirectional control and
 * byte that is not valid UTF-8 ("\xff") as a visible escape; newlines and
 * tabs stay. Malloc'd and NUL-terminated; NULL when out of memory. */
char *termsafe_str(const char *s, size_t len);

/* Write a piece of streamed text (which may end inside a UTF-8 sequence) to
 * F with its ASCII control characters (but newline and tab) and DEL as
 * escapes; other bytes pass, so a character split between pieces survives.
 * Returns 0, or -1 when writing failed. */
int termsafe_write(FILE *f, const char *s, size_t len);

#endif
