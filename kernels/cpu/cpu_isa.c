/* cpu_isa.c - which instruction set the CPU kernels use: detected once from
 * CPUID (and, for AMX, the kernel's permission to use tile data), limited by
 * OCTET_ISA in the environment, and overridable by cpu_isa_force so tests can
 * run every code path on one machine. */
#include <cpuid.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cpu_kernels.h"

/* Linux asks each process to request AMX tile state before using it
 * (arch/x86/include/uapi/asm/prctl.h). */
#define OCT_ARCH_REQ_XCOMP_PERM 0x1023
#define OCT_XFEATURE_XTILEDATA 18

static atomic_int g_hw = -1;     /* best ISA the hardware (and OS) supports */
static atomic_int g_active = -1; /* the ISA the kernels use */

static int amx_usable(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return 0;
    /* EDX bit 24: AMX-TILE, bit 25: AMX-INT8. */
    if (!(d & (1u << 24)) || !(d & (1u << 25)))
        return 0;
    /* Refused on kernels before 5.16 or where the hypervisor hides AMX. */
    return syscall(SYS_arch_prctl, OCT_ARCH_REQ_XCOMP_PERM, OCT_XFEATURE_XTILEDATA) == 0;
}

/* clang 14's __builtin_cpu_supports does not know "f16c": CPUID.1:ECX bit 29. */
static int has_f16c(void)
{
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29));
}

static cpu_isa_t hw_isa(void)
{
    int v = atomic_load(&g_hw);
    if (v >= 0)
        return (cpu_isa_t)v;
    __builtin_cpu_init();
    cpu_isa_t isa = CPU_ISA_PORTABLE;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
        has_f16c()) {
        isa = CPU_ISA_AVX2;
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
            __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni")) {
            isa = CPU_ISA_AVX512VNNI;
            if (amx_usable())
                isa = CPU_ISA_AMX;
        }
    }
    atomic_store(&g_hw, (int)isa);
    return isa;
}

cpu_isa_t cpu_isa_detect(void)
{
    cpu_isa_t isa = hw_isa();
    const char *env = getenv("OCTET_ISA");
    if (env) {
        static const char *const names[] = {"portable", "avx2", "avx512vnni", "amx"};
        for (int i = 0; i < 4; i++)
            if (strcmp(env, names[i]) == 0 && (cpu_isa_t)i < isa)
                isa = (cpu_isa_t)i;
    }
    return isa;
}

const char *cpu_isa_name(cpu_isa_t isa)
{
    switch (isa) {
    case CPU_ISA_PORTABLE:
        return "portable";
    case CPU_ISA_AVX2:
        return "avx2";
    case CPU_ISA_AVX512VNNI:
        return "avx512vnni";
    case CPU_ISA_AMX:
        return "amx";
    }
    return "unknown";
}

cpu_isa_t cpu_isa_active(void)
{
    int v = atomic_load(&g_active);
    if (v < 0) {
        v = (int)cpu_isa_detect();
        atomic_store(&g_active, v);
    }
    return (cpu_isa_t)v;
}

cpu_isa_t cpu_isa_force(cpu_isa_t isa)
{
    cpu_isa_t hw = hw_isa();
    if ((int)isa < 0)
        isa = CPU_ISA_PORTABLE;
    if (isa > hw)
        isa = hw;
    atomic_store(&g_active, (int)isa);
    return isa;
}
