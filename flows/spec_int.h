/* spec_int.h - what the spec files share (private to flows/): spec.c
 * (parsing, types, signatures, the form), spec_harness.c, spec_check.c and
 * spec_gen.c. */
#ifndef OCTET_SPEC_INT_H
#define OCTET_SPEC_INT_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "sb.h"
#include "spec.h"

#define SPEC_MAX_NAME 64
#define SPEC_RESULT_MAX 65536
#define SPEC_FEEDBACK_MAX 3000

/* Append S to B with each line prefixed by PREFIX, at most MAX_LINES lines
 * ("PREFIX..." after them when S goes on). */
void spec_add_lines(sbuf_t *b, const char *prefix, const char *s, size_t max_lines);

/* The C type of a base type: "int", "long", "double", "bool", "char *". */
const char *spec_c_base(spec_base_t b);

/* V (checked against T) as a Python literal. */
void spec_py_value(sbuf_t *b, const cJSON *v, spec_type_t t);

#endif
