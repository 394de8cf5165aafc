// Atomic operations on 64-bit words in memory several processes map (a node-shared MPI window).
//
// Swift's `Synchronization.Atomic` must own its storage, so it cannot sit at an address inside a window
// another process allocated; the compiler's __atomic builtins can. Lock-free on x86-64 and arm64, so they
// work across processes.
#ifndef VAE_DIST_SHARED_ATOMICS_H
#define VAE_DIST_SHARED_ATOMICS_H

#include <stdbool.h>
#include <stdint.h>

/// Reads `*word`; no later read or write of this thread moves before it.
static inline int64_t vd_atomic_load_acquire(const int64_t *word) { return __atomic_load_n(word, __ATOMIC_ACQUIRE); }

/// Writes `*word`; no earlier read or write of this thread moves after it, so a reader that sees the
/// value (with an acquire load) also sees everything written before.
static inline void vd_atomic_store_release(int64_t *word, int64_t value) {
    __atomic_store_n(word, value, __ATOMIC_RELEASE);
}

/// Sets `*word` to `desired` if it holds `expected`; returns whether it did.
static inline bool vd_atomic_compare_exchange(int64_t *word, int64_t expected, int64_t desired) {
    return __atomic_compare_exchange_n(word, &expected, desired, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

/// Adds `delta` to `*word`, in the one total order of all `_seq_cst` operations; returns the new value.
static inline int64_t vd_atomic_add_seq_cst(int64_t *word, int64_t delta) {
    return __atomic_add_fetch(word, delta, __ATOMIC_SEQ_CST);
}

/// Reads `*word` in the one total order of all `_seq_cst` operations (a Dekker-style handshake: of a
/// store to x then a load of y, and a store to y then a load of x, at least one load sees the store).
static inline int64_t vd_atomic_load_seq_cst(const int64_t *word) { return __atomic_load_n(word, __ATOMIC_SEQ_CST); }

/// Writes `*word` in the one total order of all `_seq_cst` operations.
static inline void vd_atomic_store_seq_cst(int64_t *word, int64_t value) { __atomic_store_n(word, value, __ATOMIC_SEQ_CST); }

/// A hint inside a spin-wait loop: lets the sibling hardware thread run and saves power.
static inline void vd_spin_pause(void) {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

#endif
