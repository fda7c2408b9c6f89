/* cpu_convert.c - number format conversions (f16, bf16), int8 row
 * quantization and the int8 dot product, each dispatched to the active ISA.
 * The scalar f16 conversions round exactly as F16C does, so the row
 * functions give the same bits on every path. */
#include <string.h>

#include "cpu_kern.h"

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

float cpu_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    if (exp == 0x1f) /* inf, or nan made quiet (keeping the payload) as F16C does */
        return bits_f32(sign | 0x7f800000u | (man ? 0x400000u | (man << 13) : 0));
    if (exp != 0)
        return bits_f32(sign | ((exp + 112) << 23) | (man << 13));
    if (man == 0)
        return bits_f32(sign);
    /* Subnormal: man * 2^-24; normalise so the leading one is bit 10. */
    uint32_t shifts = 0;
    while (!(man & 0x400u)) {
        man <<= 1;
        shifts++;
    }
    return bits_f32(sign | ((113 - shifts) << 23) | ((man & 0x3ffu) << 13));
}

uint16_t cpu_f32_to_f16(float f)
{
    uint32_t x = f32_bits(f);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) /* inf, or nan made quiet as F16C does */
        return (uint16_t)(sign | 0x7c00u | (ax > 0x7f800000u ? 0x200u | ((ax >> 13) & 0x3ffu) : 0));
    if (ax >= 0x477ff000u) /* >= 65520 rounds to infinity */
        return (uint16_t)(sign | 0x7c00u);
    if (ax < 0x38800000u) { /* below 2^-14: an f16 subnormal or zero */
        if (ax <= 0x33000000u) /* <= 2^-25: the tie at 2^-25 goes to even (0) */
            return (uint16_t)sign;
        uint32_t e = ax >> 23;
        uint32_t m = (ax & 0x7fffffu) | 0x800000u;
        uint32_t shift = 126 - e; /* 14..24 */
        uint32_t h = m >> shift;
        uint32_t rem = m & ((1u << shift) - 1);
        uint32_t half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1)))
            h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = (ax - 0x38000000u) >> 13; /* rebias the exponent by 127 - 15 */
    uint32_t rem = ax & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1)))
        h++; /* a carry into the exponent is the correct rounding */
    return (uint16_t)(sign | h);
}

float cpu_bf16_to_f32(uint16_t h)
{
    return bits_f32((uint32_t)h << 16);
}

void cpu_f16_to_f32_row(const uint16_t *src, float *dst, size_t n)
{
    if (cpu_isa_active() >= CPU_ISA_AVX2) {
        cpu_f16_to_f32_row_f16c(src, dst, n);
        return;
    }
    for (size_t i = 0; i < n; i++)
        dst[i] = cpu_f16_to_f32(src[i]);
}

void cpu_f32_to_f16_row(const float *src, uint16_t *dst, size_t n)
{
    if (cpu_isa_active() >= CPU_ISA_AVX2) {
        cpu_f32_to_f16_row_f16c(src, dst, n);
        return;
    }
    for (size_t i = 0; i < n; i++)
        dst[i] = cpu_f32_to_f16(src[i]);
}

float cpu_quantize_row_i8(const float *x, int8_t *q, size_t n)
{
    switch (cpu_isa_active()) {
    case CPU_ISA_AMX:
    case CPU_ISA_AVX512VNNI:
        return cpu_quantize_row_i8_avx512(x, q, n);
    case CPU_ISA_AVX2:
        return cpu_quantize_row_i8_avx2(x, q, n);
    case CPU_ISA_PORTABLE:
        break;
    }
    return cpu_quantize_row_i8_ref(x, q, n);
}

int32_t cpu_dot_i8(const int8_t *a, const int8_t *b, size_t n)
{
    switch (cpu_isa_active()) {
    case CPU_ISA_AMX:
    case CPU_ISA_AVX512VNNI:
        return cpu_dot_i8_avx512(a, b, n);
    case CPU_ISA_AVX2:
        return cpu_dot_i8_avx2(a, b, n);
    case CPU_ISA_PORTABLE:
        break;
    }
    return cpu_dot_i8_ref(a, b, n);
}
