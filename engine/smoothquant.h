/* smoothquant.h - the arithmetic of SmoothQuant (Xiao et al., 2023): per
 * input channel j of a linear layer, s_j = max|X_j|^alpha / max|W_j|^(1-alpha)
 * moves quantization difficulty from activations (divided by s, folded into
 * the preceding RMSNorm weight or matrix rows) to weights (multiplied by s,
 * folded into the matrix columns). The engine collects the statistics on
 * calibration text and does the folding; this module holds the formulas and
 * the built-in calibration text used when no file is given. */
#ifndef OCTET_SMOOTHQUANT_H
#define OCTET_SMOOTHQUANT_H

#include <stddef.h>

/* Raise COL_MAX[j] to max |X[r][j]| over N_ROWS rows of N columns. */
void sq_absmax_update(float *col_max, const float *x, size_t n_rows, size_t n);

/* Smoothing factors S[j] for N channels; channels where either maximum is
 * zero (or not finite) get 1, and factors are clamped to [1e-4, 1e4]. */
void sq_factors(const float *act_max, const float *w_max, size_t n, float alpha, float *s);

/* A few KB of source code (C, Python, shell) for calibration; *len its length. */
const char *sq_builtin_calib(size_t *len);

#endif
