#ifndef C_TESSERA_SIM_SUPPORT_H
#define C_TESSERA_SIM_SUPPORT_H
#include <stdint.h>

// Sequentially consistent read-modify-write operations on raw memory, used by the PTX interpreter for
// `atom` and `red` on global and shared memory. Each returns the value found before the operation.
// Blocks of one kernel run on several threads at once, so these must be real hardware atomics.

static inline uint32_t tsim_atomic_add_u32(uint32_t *p, uint32_t v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }
static inline uint64_t tsim_atomic_add_u64(uint64_t *p, uint64_t v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }
static inline uint32_t tsim_atomic_and_u32(uint32_t *p, uint32_t v) { return __atomic_fetch_and(p, v, __ATOMIC_SEQ_CST); }
static inline uint64_t tsim_atomic_and_u64(uint64_t *p, uint64_t v) { return __atomic_fetch_and(p, v, __ATOMIC_SEQ_CST); }
static inline uint32_t tsim_atomic_or_u32(uint32_t *p, uint32_t v) { return __atomic_fetch_or(p, v, __ATOMIC_SEQ_CST); }
static inline uint64_t tsim_atomic_or_u64(uint64_t *p, uint64_t v) { return __atomic_fetch_or(p, v, __ATOMIC_SEQ_CST); }
static inline uint32_t tsim_atomic_xor_u32(uint32_t *p, uint32_t v) { return __atomic_fetch_xor(p, v, __ATOMIC_SEQ_CST); }
static inline uint64_t tsim_atomic_xor_u64(uint64_t *p, uint64_t v) { return __atomic_fetch_xor(p, v, __ATOMIC_SEQ_CST); }
static inline uint32_t tsim_atomic_exch_u32(uint32_t *p, uint32_t v) { return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST); }
static inline uint64_t tsim_atomic_exch_u64(uint64_t *p, uint64_t v) { return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST); }
static inline uint32_t tsim_atomic_load_u32(uint32_t *p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
static inline uint64_t tsim_atomic_load_u64(uint64_t *p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }

/// Compare-and-swap; returns the value found (equal to `expected` when the swap happened).
static inline uint32_t tsim_atomic_cas_u32(uint32_t *p, uint32_t expected, uint32_t desired) {
    __atomic_compare_exchange_n(p, &expected, desired, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    return expected;
}
static inline uint64_t tsim_atomic_cas_u64(uint64_t *p, uint64_t expected, uint64_t desired) {
    __atomic_compare_exchange_n(p, &expected, desired, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    return expected;
}

static inline void tsim_fence(void) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

#endif

// Floating-point arithmetic under a directed rounding mode (PTX .rz/.rm/.rp), for the rare instructions that
// ask for one. mode: 1 = to nearest even, 2 = toward zero, 3 = toward -inf, 4 = toward +inf.
// op: 0 add, 1 sub, 2 mul, 3 fma, 4 div, 5 sqrt, 6 convert (a only).
float tsim_round_f32(int op, int mode, float a, float b, float c);
double tsim_round_f64(int op, int mode, double a, double b, double c);
float tsim_f64_to_f32(int mode, double a);
float tsim_i64_to_f32(int mode, int64_t a, int is_unsigned);
double tsim_i64_to_f64(int mode, int64_t a, int is_unsigned);

// Fused multiply-add for the lanes of `mask` over 32 register-file cells (values' bits in the low 32 or all
// 64 bits); `d` may alias any source.
void tsim_fma_f32_lanes(uint64_t *d, const uint64_t *a, const uint64_t *b, const uint64_t *c, uint32_t mask);
void tsim_fma_f64_lanes(uint64_t *d, const uint64_t *a, const uint64_t *b, const uint64_t *c, uint32_t mask);
