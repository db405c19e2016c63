/*
** devices/dynapse2/fastmath.h -- private: exp and log written as straight-line
** arithmetic (range reduction by bit operations, polynomials), so that the
** compiler vectorises the loops calling them (libm's calls are not).
** For finite positive normal arguments of log and arguments of exp within
** the float range: float versions within 1-2 ulp of libm (Cephes expf,
** musl-style logf), double versions within a few ulp (Taylor to degree 13
** on |r| <= ln2/2, musl's log kernel). Used by the fast DynapSim step only;
** the reference step calls libm.
*/
#ifndef LIMPET_DYNAPSE2_FASTMATH_H
#define LIMPET_DYNAPSE2_FASTMATH_H

#include <stdint.h>
#include <math.h>

#include <string.h>

/* bit casts (memcpy: the vectoriser sees through it, not through unions) */
static inline int32_t fm_bits_f(float x) { int32_t i; memcpy(&i, &x, sizeof i); return i; }
static inline float fm_from_bits_f(int32_t i) { float x; memcpy(&x, &i, sizeof x); return x; }
static inline int64_t fm_bits_d(double x) { int64_t i; memcpy(&i, &x, sizeof i); return i; }
static inline double fm_from_bits_d(int64_t i) { double x; memcpy(&x, &i, sizeof x); return x; }

static inline float fm_expf(float x) {
  float n, r, p;
  x = x < -87.0f ? -87.0f : x;
  x = x > 88.0f ? 88.0f : x;
  n = floorf(x * 1.44269504088896341f + 0.5f);
  r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  return p * fm_from_bits_f(((int32_t)n + 127) << 23);
}

static inline float fm_logf(float x) {
  int32_t ix, k;
  float f, hfsq, s, z, w, t1, t2, dk;
  ix = fm_bits_f(x) + (0x3f800000 - 0x3f3504f3);
  k = (ix >> 23) - 0x7f;
  ix = (ix & 0x007fffff) + 0x3f3504f3;
  f = fm_from_bits_f(ix) - 1.0f;
  hfsq = 0.5f * f * f;
  s = f / (2.0f + f);
  z = s * s;
  w = z * z;
  t1 = w * (0.40000972152f + w * 0.24279078841f);
  t2 = z * (0.66666662693f + w * 0.28498786688f);
  dk = (float)k;
  return s * (hfsq + t2 + t1) + dk * 9.0580006145e-06f - hfsq + f + dk * 6.9313812256e-01f;
}

static inline double fm_exp(double x) {
  double n, r, p;
  x = x < -708.0 ? -708.0 : x;
  x = x > 709.0 ? 709.0 : x;
  n = floor(x * 1.4426950408889634 + 0.5);
  r = x - n * 6.93147180369123816490e-01;
  r = r - n * 1.90821492927058770002e-10;
  p = 1.0 / 6227020800.0;
  p = p * r + 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r * r + r + 1.0;
  return p * fm_from_bits_d((int64_t)((int32_t)n + 1023) << 52);
}

static inline double fm_log(double x) {
  int64_t ix;
  int32_t hx, k;
  double f, hfsq, s, z, w, t1, t2, dk;
  ix = fm_bits_d(x);
  hx = (int32_t)(ix >> 32) + (0x3ff00000 - 0x3fe6a09e);
  k = (hx >> 20) - 0x3ff;
  hx = (hx & 0x000fffff) + 0x3fe6a09e;
  f = fm_from_bits_d((int64_t)((uint64_t)(uint32_t)hx << 32 | ((uint64_t)ix & 0xffffffffu))) - 1.0;
  hfsq = 0.5 * f * f;
  s = f / (2.0 + f);
  z = s * s;
  w = z * z;
  t1 = w * (3.999999999940941908e-01 + w * (2.222219843214978396e-01 + w * 1.531383769920937332e-01));
  t2 = z * (6.666666666666735130e-01 + w * (2.857142874366239149e-01 + w * (1.818357216161805012e-01 +
                                                                           w * 1.479819860511658591e-01)));
  dk = (double)k;
  return s * (hfsq + t2 + t1) + dk * 1.90821492927058770002e-10 - hfsq + f + dk * 6.93147180369123816490e-01;
}

#endif
