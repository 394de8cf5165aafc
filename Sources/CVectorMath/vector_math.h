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

#endif
