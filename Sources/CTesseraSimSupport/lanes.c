#include "CTesseraSimSupport.h"
#include <math.h>
#include <string.h>

// Fused multiply-add over the 32 lanes of a warp register (each lane a 64-bit register-file cell holding the
// value's bits). The interpreter's generic path calls libm's fmaf per lane through the PLT; with the FMA
// instruction the whole warp is a few vector operations. Chosen once at run time by what the CPU supports;
// results are identical either way (a fused multiply-add is exactly rounded).

static inline float f32_of(uint64_t x) { uint32_t u = (uint32_t)x; float f; memcpy(&f, &u, 4); return f; }
static inline uint64_t bits_of_f32(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline double f64_of(uint64_t x) { double d; memcpy(&d, &x, 8); return d; }
static inline uint64_t bits_of_f64(double d) { uint64_t u; memcpy(&u, &d, 8); return u; }

#if defined(__x86_64__)
__attribute__((target("fma")))
static void fma_f32_hw(uint64_t *d, const uint64_t *a, const uint64_t *b, const uint64_t *c, uint32_t mask) {
    if (mask == 0xFFFFFFFFu) {
        uint64_t r[32];
        for (int l = 0; l < 32; l++) r[l] = bits_of_f32(__builtin_fmaf(f32_of(a[l]), f32_of(b[l]), f32_of(c[l])));
        memcpy(d, r, sizeof r);
    } else {
        for (int l = 0; l < 32; l++)
            if ((mask >> l) & 1) d[l] = bits_of_f32(__builtin_fmaf(f32_of(a[l]), f32_of(b[l]), f32_of(c[l])));
    }
}

__attribute__((target("fma")))
static void fma_f64_hw(uint64_t *d, const uint64_t *a, const uint64_t *b, const uint64_t *c, uint32_t mask) {
    if (mask == 0xFFFFFFFFu) {
        uint64_t r[32];
        for (int l = 0; l < 32; l++) r[l] = bits_of_f64(__builtin_fma(f64_of(a[l]), f64_of(b[l]), f64_of(c[l])));
        memcpy(d, r, sizeof r);
    } else {
        for (int l = 0; l < 32; l++)
            if ((mask >> l) & 1) d[l] = bits_of_f64(__builtin_fma(f64_of(a[l]), f64_of(b[l]), f64_of(c[l])));
    }
}
#endif

static void fma_f32_sw(uint64_t *d, const uint64_t *a, const uint64_t *b, const uint64_t *c, uint32_t mask) {
    uint64_t r[32];
    for (int l = 0; l < 32; l++)
        r[l] = ((mask >> l) & 1) ? bits_of_f32(fmaf(f32_of(a[l]), f32_of(b[l]), f32_of(c[l]))) : d[l];
    memcpy(d, r, sizeof r);
}

static void fma_f64_sw(uint64_t *d, const uint64_t *a, const uint64_t *b, const uint64_t *c, uint32_t mask) {
    uint64_t r[32];
    for (int l = 0; l < 32; l++)
        r[l] = ((mask >> l) & 1) ? bits_of_f64(fma(f64_of(a[l]), f64_of(b[l]), f64_of(c[l]))) : d[l];
    memcpy(d, r, sizeof r);
}

static int has_fma(void) {
#if defined(__x86_64__)
    static int cached = -1;
    if (cached < 0) { __builtin_cpu_init(); cached = __builtin_cpu_supports("fma") ? 1 : 0; }
    return cached;
#else
    return 0;
#endif
}

void tsim_fma_f32_lanes(uint64_t *d, const uint64_t *a, const uint64_t *b, const uint64_t *c, uint32_t mask) {
#if defined(__x86_64__)
    if (has_fma()) { fma_f32_hw(d, a, b, c, mask); return; }
#endif
    fma_f32_sw(d, a, b, c, mask);
}

void tsim_fma_f64_lanes(uint64_t *d, const uint64_t *a, const uint64_t *b, const uint64_t *c, uint32_t mask) {
#if defined(__x86_64__)
    if (has_fma()) { fma_f64_hw(d, a, b, c, mask); return; }
#endif
    fma_f64_sw(d, a, b, c, mask);
}
