/*
** core/src/dtype.c -- dtype sizes, names, NumPy promotion, and the scalar
** load/store helpers every kernel uses to convert one element.
** Promotion: tensor-with-tensor follows NumPy's table; a Lua number is weak
** (it never widens the tensor's kind's size), except that a float number
** with an int or bool tensor gives float32, limpet's default float.
*/
#include "tensor_impl.h"
#include <math.h>
#include <string.h>

size_t lp_dtype_size(lp_dtype dt) {
  switch (dt) {
    case LP_F32: case LP_I32: return 4;
    case LP_F64: case LP_I64: return 8;
    case LP_I16: return 2;
    case LP_I8: case LP_U8: case LP_BOOL: return 1;
    default: return 0;
  }
}

const char *lp_dtype_name(lp_dtype dt) {
  switch (dt) {
    case LP_F32: return "float32"; case LP_F64: return "float64";
    case LP_I8: return "int8";     case LP_I16: return "int16";
    case LP_I32: return "int32";   case LP_I64: return "int64";
    case LP_U8: return "uint8";    case LP_BOOL: return "bool";
    default: return "?";
  }
}

const char *lp_dtype_short(lp_dtype dt) {
  switch (dt) {
    case LP_F32: return "f32"; case LP_F64: return "f64";
    case LP_I8: return "i8";   case LP_I16: return "i16";
    case LP_I32: return "i32"; case LP_I64: return "i64";
    case LP_U8: return "u8";   case LP_BOOL: return "bool";
    default: return "?";
  }
}

int lp_dtype_from_name(const char *name, lp_dtype *out) {
  static const struct { const char *name; lp_dtype dt; } names[] = {
    {"float32", LP_F32}, {"f32", LP_F32}, {"float", LP_F32},
    {"float64", LP_F64}, {"f64", LP_F64}, {"double", LP_F64},
    {"int8", LP_I8}, {"i8", LP_I8}, {"int16", LP_I16}, {"i16", LP_I16},
    {"int32", LP_I32}, {"i32", LP_I32}, {"int", LP_I32},
    {"int64", LP_I64}, {"i64", LP_I64}, {"long", LP_I64},
    {"uint8", LP_U8}, {"u8", LP_U8}, {"byte", LP_U8},
    {"bool", LP_BOOL},
  };
  size_t i;
  for (i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp(name, names[i].name) == 0) { *out = names[i].dt; return 1; }
  return 0;
}

int lp_dtype_is_float(lp_dtype dt) { return dt == LP_F32 || dt == LP_F64; }
int lp_dtype_is_int(lp_dtype dt) {
  return dt == LP_I8 || dt == LP_I16 || dt == LP_I32 || dt == LP_I64 || dt == LP_U8;
}

/* Bits of an integer dtype, and whether it is signed. */
static int int_bits(lp_dtype dt) { return (int)lp_dtype_size(dt) * 8; }

lp_dtype lp_dtype_promote(lp_dtype a, lp_dtype b) {
  if (a == b) return a;
  if (a == LP_BOOL) return b;
  if (b == LP_BOOL) return a;
  if (lp_dtype_is_float(a) && lp_dtype_is_float(b)) return LP_F64;   /* f32 + f64 */
  if (lp_dtype_is_float(a) || lp_dtype_is_float(b)) {
    lp_dtype f = lp_dtype_is_float(a) ? a : b, i = lp_dtype_is_float(a) ? b : a;
    /* A float holds an integer of its kind exactly only when its mantissa
       covers it: i8, u8, i16 fit float32; i32 and i64 need float64. */
    if (f == LP_F64) return LP_F64;
    return (i == LP_I32 || i == LP_I64) ? LP_F64 : LP_F32;
  }
  /* both integers */
  if (a == LP_U8 || b == LP_U8) {
    lp_dtype s = a == LP_U8 ? b : a;              /* the signed one */
    return s == LP_I8 ? LP_I16 : s;               /* u8 + i8 -> i16 */
  }
  return int_bits(a) >= int_bits(b) ? a : b;
}

lp_dtype lp_dtype_promote_scalar(lp_dtype t, lp_scalar s) {
  if (s.isint) return t == LP_BOOL ? LP_I64 : t;
  return lp_dtype_is_float(t) ? t : LP_F32;
}

/* ---- element conversion ----------------------------------------------- */
double lp_load_f(lp_dtype dt, const void *p) {
  switch (dt) {
    case LP_F32: return *(const float *)p;
    case LP_F64: return *(const double *)p;
    case LP_I8: return *(const int8_t *)p;
    case LP_I16: return *(const int16_t *)p;
    case LP_I32: return *(const int32_t *)p;
    case LP_I64: return (double)*(const int64_t *)p;
    case LP_U8: return *(const uint8_t *)p;
    case LP_BOOL: return *(const uint8_t *)p != 0;
    default: return 0;
  }
}

/* Float to integer the way C casts would, but defined for NaN, Inf and out of
   range values (NumPy leaves those undefined; we saturate, NaN gives 0). */
static int64_t f2i(double v) {
  if (v != v) return 0;
  if (v >= 9223372036854775807.0) return INT64_MAX;
  if (v <= -9223372036854775808.0) return INT64_MIN;
  return (int64_t)v;
}

int64_t lp_load_i(lp_dtype dt, const void *p) {
  switch (dt) {
    case LP_F32: return f2i(*(const float *)p);
    case LP_F64: return f2i(*(const double *)p);
    case LP_I8: return *(const int8_t *)p;
    case LP_I16: return *(const int16_t *)p;
    case LP_I32: return *(const int32_t *)p;
    case LP_I64: return *(const int64_t *)p;
    case LP_U8: return *(const uint8_t *)p;
    case LP_BOOL: return *(const uint8_t *)p != 0;
    default: return 0;
  }
}

/* Integer narrowing wraps modulo 2^bits, as NumPy's astype does. */
void lp_store_i(lp_dtype dt, void *p, int64_t v) {
  switch (dt) {
    case LP_F32: *(float *)p = (float)v; break;
    case LP_F64: *(double *)p = (double)v; break;
    case LP_I8: *(int8_t *)p = (int8_t)(uint8_t)(uint64_t)v; break;
    case LP_I16: *(int16_t *)p = (int16_t)(uint16_t)(uint64_t)v; break;
    case LP_I32: *(int32_t *)p = (int32_t)(uint32_t)(uint64_t)v; break;
    case LP_I64: *(int64_t *)p = v; break;
    case LP_U8: *(uint8_t *)p = (uint8_t)(uint64_t)v; break;
    case LP_BOOL: *(uint8_t *)p = v != 0; break;
    default: break;
  }
}

void lp_store_f(lp_dtype dt, void *p, double v) {
  switch (dt) {
    case LP_F32: *(float *)p = (float)v; break;
    case LP_F64: *(double *)p = v; break;
    case LP_BOOL: *(uint8_t *)p = v != 0; break;
    default: lp_store_i(dt, p, f2i(v)); break;
  }
}

void lp_store_scalar(lp_dtype dt, void *p, lp_scalar v) {
  if (v.isint) lp_store_i(dt, p, v.i); else lp_store_f(dt, p, v.f);
}

lp_scalar lp_load_scalar(lp_dtype dt, const void *p) {
  if (lp_dtype_is_float(dt)) return lp_float(lp_load_f(dt, p));
  return lp_int(lp_load_i(dt, p));
}
