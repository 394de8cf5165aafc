// The two instructions that say what an x86-64 CPU and its OS support: CPUID and XGETBV.
// Swift has no inline assembly; these are the only lines of it the kernels' dispatch needs.
#ifndef VAE_DIST_CPU_FEATURES_H
#define VAE_DIST_CPU_FEATURES_H

#include <stdint.h>

/// The four registers CPUID returns for `leaf`/`subleaf`; all zero on other architectures.
typedef struct { uint32_t eax, ebx, ecx, edx; } vd_cpuid_registers;

static inline vd_cpuid_registers vd_cpuid(uint32_t leaf, uint32_t subleaf) {
    vd_cpuid_registers r = {0, 0, 0, 0};
#if defined(__x86_64__)
    __asm__ volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx) : "a"(leaf), "c"(subleaf));
#else
    (void)leaf; (void)subleaf;
#endif
    return r;
}

/// XCR0: the register states the OS saves on a context switch. Call only when CPUID.1:ECX.OSXSAVE
/// (bit 27) is set; XGETBV faults otherwise.
static inline uint64_t vd_xgetbv0(void) {
#if defined(__x86_64__)
    uint32_t eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((uint64_t)edx << 32) | eax;
#else
    return 0;
#endif
}

#endif
