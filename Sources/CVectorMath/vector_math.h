// Vector operations Swift cannot express without a scalar fallback.
//
// On Linux, Swift's `SIMD16<Float>.squareRoot()` becomes sixteen scalar `vsqrtss`, each guarded by a call
// to libm's `sqrtf` (for errno). Clang's elementwise builtin lowers to `llvm.sqrt.v16f32`: one `vsqrtps`
// per vector, no errno. Clang's 16-lane float vector type imports into Swift as `SIMD16<Float>`.
#ifndef VAE_DIST_VECTOR_MATH_H
#define VAE_DIST_VECTOR_MATH_H

typedef float vd_float16 __attribute__((ext_vector_type(16)));

/// Lane-wise IEEE square root (correctly rounded, as `sqrtf`).
static inline vd_float16 vd_sqrt16(vd_float16 x) { return __builtin_elementwise_sqrt(x); }

/// Sets flush-to-zero and denormals-are-zero for this thread (x86-64 MXCSR bits 15 and 6; no-op elsewhere).
static inline void vd_flush_denormals_to_zero(void) {
#if defined(__x86_64__)
    unsigned int csr;
    __asm__ volatile("stmxcsr %0" : "=m"(csr));
    csr |= 0x8040u;
    __asm__ volatile("ldmxcsr %0" : : "m"(csr));
#endif
}

/// Asks for the cache line holding `p` in L2 (`prefetcht1` on x86-64), without waiting for it.
static inline void vd_prefetch_l2(const void *p) { __builtin_prefetch(p, 0, 2); }

/// Asks for the cache line holding `p`, which is about to be written, without waiting for it (`prefetcht0`:
/// x86-64-v3 and v4 have no `prefetchw`).
static inline void vd_prefetch_for_write(void *p) { __builtin_prefetch(p, 1, 3); }

#endif
