#include "CTesseraSimSupport.h"
#include <fenv.h>
#include <math.h>

#pragma STDC FENV_ACCESS ON

static int to_fe(int mode) {
    switch (mode) {
    case 2: return FE_TOWARDZERO;
    case 3: return FE_DOWNWARD;
    case 4: return FE_UPWARD;
    default: return FE_TONEAREST;
    }
}

float tsim_round_f32(int op, int mode, float a, float b, float c) {
    int saved = fegetround();
    fesetround(to_fe(mode));
    volatile float va = a, vb = b, vc = c;
    float r;
    switch (op) {
    case 0: r = va + vb; break;
    case 1: r = va - vb; break;
    case 2: r = va * vb; break;
    case 3: r = fmaf(va, vb, vc); break;
    case 4: r = va / vb; break;
    case 5: r = sqrtf(va); break;
    default: r = va; break;
    }
    fesetround(saved);
    return r;
}

double tsim_round_f64(int op, int mode, double a, double b, double c) {
    int saved = fegetround();
    fesetround(to_fe(mode));
    volatile double va = a, vb = b, vc = c;
    double r;
    switch (op) {
    case 0: r = va + vb; break;
    case 1: r = va - vb; break;
    case 2: r = va * vb; break;
    case 3: r = fma(va, vb, vc); break;
    case 4: r = va / vb; break;
    case 5: r = sqrt(va); break;
    default: r = va; break;
    }
    fesetround(saved);
    return r;
}

float tsim_f64_to_f32(int mode, double a) {
    int saved = fegetround();
    fesetround(to_fe(mode));
    volatile double va = a;
    float r = (float)va;
    fesetround(saved);
    return r;
}

float tsim_i64_to_f32(int mode, int64_t a, int is_unsigned) {
    int saved = fegetround();
    fesetround(to_fe(mode));
    volatile int64_t va = a;
    float r = is_unsigned ? (float)(uint64_t)va : (float)va;
    fesetround(saved);
    return r;
}

double tsim_i64_to_f64(int mode, int64_t a, int is_unsigned) {
    int saved = fegetround();
    fesetround(to_fe(mode));
    volatile int64_t va = a;
    double r = is_unsigned ? (double)(uint64_t)va : (double)va;
    fesetround(saved);
    return r;
}
