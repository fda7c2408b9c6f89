/* dense.h - the arithmetic of rag/'s dense vectors (private to rag/): the
 * hash that keys a chunk text's vector, int8 quantization with one scale
 * per vector, the exact scan of a query against every stored vector (AVX2
 * when the CPU has it, portable C otherwise, the same integers either way)
 * and the best M of the scores. */
#ifndef OCTET_RAG_DENSE_H
#define OCTET_RAG_DENSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 64 bits of LEN bytes of TEXT (FNV-1a folded with a final mix), as SQLite
 * stores it (signed). */
int64_t dense_hash(const char *text, size_t len);

/* Q[DIM] = round(V / scale) with scale = max|V| / 127 (1 for a zero vector):
 * V ~ Q * *SCALE. */
void dense_quantize(const float *v, uint32_t dim, int8_t *q, float *scale);

/* OUT[i] = QSCALE * SCALES[i] * (Q . MAT[i]) for the N rows of MAT (DIM int8
 * each, row-major): the integer dot products are exact. FORCE_C runs the
 * portable loop whatever the CPU (the tests compare both). */
void dense_scores(const int8_t *q, float qscale, const int8_t *mat, const float *scales, size_t n, uint32_t dim,
                  bool force_c, float *out);
bool dense_simd(void); /* whether dense_scores uses AVX2 on this CPU */

/* The indices of the M largest of the N values of S (ties: lower index
 * first), best first, in IDX (M entries); returns how many (min(M, N)). */
size_t dense_top(const float *s, size_t n, size_t m, uint32_t *idx);

#endif
