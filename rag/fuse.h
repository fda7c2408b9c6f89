/* fuse.h - hybrid ranking (private to rag/): reciprocal rank fusion of the
 * BM25 ranking and the dense one, and hits that never overlap (windows of
 * one function that a ranking returned side by side become one hit). */
#ifndef OCTET_RAG_FUSE_H
#define OCTET_RAG_FUSE_H

#include <stddef.h>
#include <stdint.h>

#include "rag.h"

/* Weighted reciprocal rank fusion: a chunk at rank r (from 1) of a ranking
 * adds W / (FUSE_K + r). BM25 weighs twice the encoder, whose rankings are
 * the weaker (chosen with tools/bench/rag_quality.py, docs/retrieval.md). */
#define FUSE_K 10.0
#define FUSE_W_LEX 2.0
#define FUSE_W_DENSE 1.0

typedef struct fuse_item {
    int64_t id;
    double score;
} fuse_item_t;

/* Fuse LEX (N_LEX chunk ids, best first) and DENSE (N_DENSE) into *OUT
 * (malloc'd, *N distinct ids), best first; equal scores go by the better of
 * the two ranks, then by id. 0 or OCT_ENOMEM. */
int fuse_rrf(const int64_t *lex, size_t n_lex, const int64_t *dense, size_t n_dense, fuse_item_t **out, size_t *n);

/* Merge, in place, every hit of HITS (*N, best first) whose lines overlap
 * those of a better hit of the same file into that hit: its lines become
 * the union and its text the union's lines; the merged hit keeps the
 * better one's place, score and symbol. *N shrinks. 0 or OCT_ENOMEM (HITS
 * stays valid). */
int fuse_merge(rag_hit_t *hits, size_t *n);

#endif
