/*
** lua/l_afe.c -- the Lua face of the Xylo audio front ends in C
** (devices/xylo/afe.h): the private table core._afe. Converts Lua tables
** and tensors to the C structs and back; option names, defaults, checks and
** user-facing messages live in devices/xylo/afe3.lua, afe2.lua and dn.lua,
** the only callers. Errors the Lua layer rewords (LP_EARG, LP_ESHAPE,
** LP_ETYPE, LP_ERANGE) come back as nil, msg; the rest are raised.
**
**   core._afe.resample(x (B, T), fs_in, fs_out) -> (B, T') float64
**   core._afe.quantize(x, scale, num_bits) -> int32
**   core._afe.pdm_mic(x (B, T), fs_in[, npre]) -> bits (B, T') uint8, pre_q | nil
**   core._afe.pdm_fir(bits (B, Tp)) -> (B, ceil(Tp/32) + 8) int32
**   core._afe.fir_taps() -> {256 taps}, shift
**   core._afe.filter_coeffs(i) -> {B_worst_case, B_b, B_af, a1, a2}   (i 0-based)
**   core._afe.filterbank(x (B, T), {ids 0-based}, flip) -> (B, T, n) int32
**   core._afe.dn3(z (B, T, n), p, flip, want_spikes, k, maxcount, record)
**       -> spikes | nil, raster | nil, {high, low, iaf, thr} | nil
**       p = {enable=, b1=, b2=, lowpass=, eps=, threshold= (tensors (n)), joint=bool}
**   core._afe.raster3(spikes (B, T, n), k, maxcount) -> (B, ceil(T/k), n) int32
**   core._afe.lfsr10() -> (1023) int32
**   core._afe.dn2(x (B, T, n), p, state, record) -> out, state', E | nil, M | nil
**       p = {n, dt, frame_dt, bits_counter, bits_lowpass, bits_shift_lowpass, p_local,
**            overflow_protect, use_lfsr, code (int32 tensor)}; state = {M=, iaf= (n) int64, lfsr_index=}
**   core._afe.afe2(x (B, T), p, lif (16) float64, record) -> spikes, lif', rec | nil
**   core._afe.design_bandpass(lo, hi, fs) -> {{6}, {6}};  design_highpass(fc, fs) -> {b0, b1}, {a0, a1}
**   core._afe.afe2_raster(spikes, dt, raster_period, maxcount) -> int32
**   core._afe.uniform(seed, counter) -> number in [0, 1)
*/
#include "lbind.h"
#include "../devices/xylo/afe.h"
#include <string.h>

static int soft(lua_State *L, lp_status st) {
  if (st == LP_EARG || st == LP_ESHAPE || st == LP_ETYPE || st == LP_ERANGE) return lt_fail(L, st);
  return lt_raise(L, st);
}

/* A tensor argument (tensor or nested table); the caller releases it. */
static lp_tensor *targ(lua_State *L, int arg) { return lt_checktensorlike(L, arg); }

/* Field `k` of the table at idx converted to a contiguous tensor of dtype dt
   with n elements; the box stays on the stack to keep it alive. */
static const void *field_vec(lua_State *L, int idx, const char *k, lp_dtype dt, int64_t n) {
  lp_tensor *t, *c = NULL;
  lp_status st;
  lua_getfield(L, idx, k);
  if (lua_isnil(L, -1)) luaL_error(L, "core._afe: field '%s' missing", k);
  /* float fields must come as float64 tensors: a Lua table would be read as float32 */
  if (dt == LP_F64 && (!lt_totensor(L, -1) || lp_tensor_dtype(lt_totensor(L, -1)) != LP_F64))
    luaL_error(L, "core._afe: field '%s' must be a float64 tensor", k);
  t = lt_checktensorlike(L, lua_gettop(L));     /* absolute: the converter pushes */
  lua_pop(L, 1);
  if (lp_tensor_numel(t) != n) {
    lp_tensor_release(t);
    luaL_error(L, "core._afe: field '%s' must have %d elements", k, (int)n);
  }
  st = lp_tensor_astype(lt_ctx(L), t, dt, &c);
  lp_tensor_release(t);
  if (st != LP_OK) lt_raise(L, st);
  lt_pushtensor(L, c);
  return lp_tensor_data(c);
}

static double num_field(lua_State *L, int idx, const char *k) {
  double v;
  lua_getfield(L, idx, k);
  v = luaL_checknumber(L, -1);
  lua_pop(L, 1);
  return v;
}

static lua_Integer int_field(lua_State *L, int idx, const char *k) {
  lua_Integer v;
  lua_getfield(L, idx, k);
  v = luaL_checkinteger(L, -1);
  lua_pop(L, 1);
  return v;
}

static int bool_field(lua_State *L, int idx, const char *k) {
  int v;
  lua_getfield(L, idx, k);
  v = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return v;
}

static void push_or_nil(lua_State *L, lp_tensor *t) {
  if (t) lt_pushtensor(L, t); else lua_pushnil(L);
}

static int l_resample(lua_State *L) {
  lp_tensor *x = targ(L, 1), *r = NULL;
  lp_status st = lp_afe_resample(lt_ctx(L), x, luaL_checknumber(L, 2), luaL_checknumber(L, 3), &r);
  lp_tensor_release(x);
  if (st != LP_OK) return soft(L, st);
  lt_pushtensor(L, r);
  return 1;
}

static int l_quantize(lua_State *L) {
  lp_tensor *x = targ(L, 1), *r = NULL;
  lp_status st = lp_afe3_quantize(lt_ctx(L), x, luaL_checknumber(L, 2), (int)luaL_checkinteger(L, 3), &r);
  lp_tensor_release(x);
  if (st != LP_OK) return soft(L, st);
  lt_pushtensor(L, r);
  return 1;
}

static int l_pdm_mic(lua_State *L) {
  lp_tensor *x = targ(L, 1), *bits = NULL, *pre = NULL;
  lua_Integer npre = luaL_optinteger(L, 3, -1);
  lp_status st = lp_afe3_pdm_mic(lt_ctx(L), x, luaL_checknumber(L, 2), npre, &bits, npre >= 0 ? &pre : NULL);
  lp_tensor_release(x);
  if (st != LP_OK) return soft(L, st);
  lt_pushtensor(L, bits);
  push_or_nil(L, pre);
  return 2;
}

static int l_pdm_fir(lua_State *L) {
  lp_tensor *x = targ(L, 1), *r = NULL;
  lp_status st = lp_afe3_pdm_fir(lt_ctx(L), x, &r);
  lp_tensor_release(x);
  if (st != LP_OK) return soft(L, st);
  lt_pushtensor(L, r);
  return 1;
}

static int l_fir_taps(lua_State *L) {
  int shift, i;
  const int16_t *h = lp_afe3_fir_taps(&shift);
  lua_createtable(L, LP_AFE3_FIR_TAPS, 0);
  for (i = 0; i < LP_AFE3_FIR_TAPS; i++) { lua_pushinteger(L, h[i]); lua_rawseti(L, -2, i + 1); }
  lua_pushinteger(L, shift);
  return 2;
}

static int l_filter_coeffs(lua_State *L) {
  int v[5], i, f = (int)luaL_checkinteger(L, 1);
  luaL_argcheck(L, f >= 0 && f < LP_AFE3_NFILT, 1, "filter id must be 0..15");
  lp_afe3_filter_coeffs(f, &v[0], &v[1], &v[2], &v[3], &v[4]);
  lua_createtable(L, 5, 0);
  for (i = 0; i < 5; i++) { lua_pushinteger(L, v[i]); lua_rawseti(L, -2, i + 1); }
  return 1;
}

static int l_filterbank(lua_State *L) {
  lp_tensor *x, *r = NULL;
  int sel[LP_AFE3_NFILT], n, i;
  lp_status st;
  luaL_checktype(L, 2, LUA_TTABLE);
  n = (int)luaL_len(L, 2);
  luaL_argcheck(L, n >= 1 && n <= LP_AFE3_NFILT, 2, "1 to 16 filter ids");
  for (i = 0; i < n; i++) {
    lua_rawgeti(L, 2, i + 1);
    sel[i] = (int)luaL_checkinteger(L, -1);
    lua_pop(L, 1);
  }
  x = targ(L, 1);
  st = lp_afe3_filterbank(lt_ctx(L), x, n, sel, lua_toboolean(L, 3), &r);
  lp_tensor_release(x);
  if (st != LP_OK) return soft(L, st);
  lt_pushtensor(L, r);
  return 1;
}

static int l_dn3(lua_State *L) {
  lp_afe3_dn_params p;
  lp_afe3_dn_record rec, *prec = NULL;
  lp_tensor *z, *spk = NULL, *ras = NULL;
  lp_status st;
  int want_spikes = lua_toboolean(L, 4), k = (int)luaL_optinteger(L, 5, 0), maxc = (int)luaL_optinteger(L, 6, 15);
  int record = lua_toboolean(L, 7);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 7);
  lua_checkstack(L, 16);
  memset(&p, 0, sizeof p);
  p.n = (int)int_field(L, 2, "n");
  luaL_argcheck(L, p.n >= 1 && p.n <= LP_AFE3_NFILT, 2, "1 to 16 channels");
  p.enable = field_vec(L, 2, "enable", LP_I32, p.n);
  p.b1 = field_vec(L, 2, "b1", LP_I32, p.n);
  p.b2 = field_vec(L, 2, "b2", LP_I32, p.n);
  p.lowpass = field_vec(L, 2, "lowpass", LP_I32, p.n);
  p.eps = field_vec(L, 2, "eps", LP_I64, p.n);
  p.threshold = field_vec(L, 2, "threshold", LP_I64, p.n);
  p.joint = bool_field(L, 2, "joint");
  if (record) {
    memset(&rec, 0, sizeof rec);
    rec.high = rec.low = rec.iaf = rec.thr = (lp_tensor *)&rec;   /* wanted */
    prec = &rec;
  }
  z = targ(L, 1);
  st = lp_afe3_dn(lt_ctx(L), z, &p, lua_toboolean(L, 3), want_spikes ? &spk : NULL, k, maxc,
                  k > 0 ? &ras : NULL, prec);
  lp_tensor_release(z);
  if (st != LP_OK) return soft(L, st);
  push_or_nil(L, spk);
  push_or_nil(L, ras);
  if (prec) {
    lua_createtable(L, 0, 4);
    lt_pushtensor(L, rec.high); lua_setfield(L, -2, "state_high_res_filter");
    lt_pushtensor(L, rec.low); lua_setfield(L, -2, "state_low_res_filter");
    lt_pushtensor(L, rec.iaf); lua_setfield(L, -2, "state_IAF");
    lt_pushtensor(L, rec.thr); lua_setfield(L, -2, "spike_gen_thresholds");
  } else {
    lua_pushnil(L);
  }
  return 3;
}

static int l_raster3(lua_State *L) {
  lp_tensor *s = targ(L, 1), *r = NULL;
  lp_status st = lp_afe3_raster(lt_ctx(L), s, (int)luaL_checkinteger(L, 2), (int)luaL_checkinteger(L, 3), &r);
  lp_tensor_release(s);
  if (st != LP_OK) return soft(L, st);
  lt_pushtensor(L, r);
  return 1;
}

static int l_lfsr10(lua_State *L) {
  int32_t code[1023];
  int64_t n = 1023;
  lp_tensor *t = NULL;
  lp_status st;
  lp_dn2_lfsr10(code);
  st = lp_tensor_from_data(lt_ctx(L), LP_I32, 1, &n, code, &t);
  if (st != LP_OK) return lt_raise(L, st);
  lt_pushtensor(L, t);
  return 1;
}

static int l_dn2(lua_State *L) {
  lp_dn2_params p;
  lp_dn2_state s;
  lp_tensor *x, *out = NULL, *rE = NULL, *rM = NULL, *tM = NULL, *tI = NULL;
  lp_status st;
  int record, iM, iI;
  int64_t n;
  luaL_checktype(L, 2, LUA_TTABLE);
  luaL_checktype(L, 3, LUA_TTABLE);
  record = lua_toboolean(L, 4);
  lua_settop(L, 4);
  lua_checkstack(L, 16);
  memset(&p, 0, sizeof p);
  p.n = (int)int_field(L, 2, "n");
  luaL_argcheck(L, p.n >= 1, 2, "at least one channel");
  n = p.n;
  p.dt = num_field(L, 2, "dt");
  p.frame_dt = num_field(L, 2, "frame_dt");
  p.bits_counter = (int)int_field(L, 2, "bits_counter");
  p.bits_lowpass = (int)int_field(L, 2, "bits_lowpass");
  p.bits_shift_lowpass = (int)int_field(L, 2, "bits_shift_lowpass");
  p.p_local = (int)int_field(L, 2, "p_local");
  p.overflow_protect = bool_field(L, 2, "overflow_protect");
  p.use_lfsr = bool_field(L, 2, "use_lfsr");
  if (p.use_lfsr) {
    lp_tensor *c;
    lua_getfield(L, 2, "code");
    c = lt_checktensorlike(L, lua_gettop(L));
    lua_pop(L, 1);
    p.ncode = (int)lp_tensor_numel(c);
    lp_tensor_release(c);
    p.code_lfsr = field_vec(L, 2, "code", LP_I32, p.ncode);
    luaL_argcheck(L, p.ncode >= 1, 2, "empty LFSR code");
  }
  /* state copies (the C call updates them) */
  {
    const int64_t *m = field_vec(L, 3, "M", LP_I64, n), *ia = field_vec(L, 3, "iaf", LP_I64, n);
    if ((st = lp_tensor_from_data(lt_ctx(L), LP_I64, 1, &n, m, &tM)) != LP_OK) return lt_raise(L, st);
    lt_pushtensor(L, tM);
    iM = lua_gettop(L);
    if ((st = lp_tensor_from_data(lt_ctx(L), LP_I64, 1, &n, ia, &tI)) != LP_OK) return lt_raise(L, st);
    lt_pushtensor(L, tI);
    iI = lua_gettop(L);
    s.M = lp_tensor_data(tM);
    s.iaf = lp_tensor_data(tI);
    s.lfsr_index = int_field(L, 3, "lfsr_index");
  }
  x = targ(L, 1);
  st = lp_dn2_evolve(lt_ctx(L), x, &p, &s, &out, record ? &rE : NULL, record ? &rM : NULL);
  lp_tensor_release(x);
  if (st != LP_OK) return soft(L, st);
  lt_pushtensor(L, out);
  lua_createtable(L, 0, 3);
  lua_pushvalue(L, iI); lua_setfield(L, -2, "iaf");
  lua_pushvalue(L, iM); lua_setfield(L, -2, "M");
  lua_pushinteger(L, (lua_Integer)s.lfsr_index); lua_setfield(L, -2, "lfsr_index");
  push_or_nil(L, rE);
  push_or_nil(L, rM);
  return 4;
}

static void vec3(lua_State *L, int idx, const char *k, double out[3]) {
  int i;
  lua_getfield(L, idx, k);
  luaL_checktype(L, -1, LUA_TTABLE);
  for (i = 0; i < 3; i++) {
    lua_rawgeti(L, -1, i + 1);
    out[i] = luaL_checknumber(L, -1);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

static int l_afe2(lua_State *L) {
  lp_afe2_params p;
  lp_afe2_record rec, *prec = NULL;
  lp_tensor *x, *spk = NULL, *lt = NULL, *lc = NULL;
  double lif[16];
  lp_status st;
  int record = lua_toboolean(L, 4), c, s, i;
  int64_t sixteen = 16;
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 4);
  lua_checkstack(L, 16);
  memset(&p, 0, sizeof p);
  p.fs = num_field(L, 2, "fs");
  p.vcc = num_field(L, 2, "vcc"); p.max_amp = num_field(L, 2, "max_amp");
  p.mic_dist = num_field(L, 2, "mic_dist"); p.mic_vc = num_field(L, 2, "mic_vc");
  p.lna_dist = num_field(L, 2, "lna_dist"); p.lna_vc = num_field(L, 2, "lna_vc");
  p.lna_gain = num_field(L, 2, "lna_gain");
  p.input_offset = num_field(L, 2, "input_offset"); p.lna_offset = num_field(L, 2, "lna_offset");
  p.bpf_offset = num_field(L, 2, "bpf_offset");
  p.v2i = num_field(L, 2, "v2i"); p.c_iaf = num_field(L, 2, "c_iaf");
  p.leakage = num_field(L, 2, "leakage"); p.thr = num_field(L, 2, "thr");
  p.counter = (int)int_field(L, 2, "counter");
  p.add_noise = bool_field(L, 2, "add_noise");
  p.seed = (uint64_t)int_field(L, 2, "seed");
  if (p.add_noise) {
    vec3(L, 2, "noise_lna", p.noise_lna); vec3(L, 2, "noise_bpf", p.noise_bpf); vec3(L, 2, "noise_fwr", p.noise_fwr);
  }
  {
    const double *sos = field_vec(L, 2, "sos", LP_F64, 16 * 2 * 6);
    const double *hb = field_vec(L, 2, "hp_b", LP_F64, 2), *ha = field_vec(L, 2, "hp_a", LP_F64, 2);
    for (c = 0; c < 16; c++)
      for (s = 0; s < 2; s++)
        for (i = 0; i < 6; i++) p.sos[c][s][i] = sos[(c * 2 + s) * 6 + i];
    p.hp_b[0] = hb[0]; p.hp_b[1] = hb[1]; p.hp_a[0] = ha[0]; p.hp_a[1] = ha[1];
    luaL_argcheck(L, ha[0] != 0, 2, "hp_a[1] must not be 0");
  }
  lt = lt_checktensorlike(L, 3);
  st = lp_tensor_astype(lt_ctx(L), lt, LP_F64, &lc);
  lp_tensor_release(lt);
  if (st != LP_OK) return lt_raise(L, st);
  lt_pushtensor(L, lc);
  luaL_argcheck(L, lp_tensor_numel(lc) == 16, 3, "16 IAF voltages");
  memcpy(lif, lp_tensor_data(lc), sizeof lif);
  if (record) {
    memset(&rec, 0, sizeof rec);
    rec.mic = rec.lna = rec.bpf = rec.rect = rec.spikes_pre = (lp_tensor *)&rec;
    prec = &rec;
  }
  x = targ(L, 1);
  st = lp_afe2_evolve(lt_ctx(L), x, &p, lif, &spk, prec);
  lp_tensor_release(x);
  if (st != LP_OK) return soft(L, st);
  lt_pushtensor(L, spk);
  {
    lp_tensor *nl = NULL;
    if ((st = lp_tensor_from_data(lt_ctx(L), LP_F64, 1, &sixteen, lif, &nl)) != LP_OK) return lt_raise(L, st);
    lt_pushtensor(L, nl);
  }
  if (prec) {
    lua_createtable(L, 0, 5);
    lt_pushtensor(L, rec.mic); lua_setfield(L, -2, "mic");
    lt_pushtensor(L, rec.lna); lua_setfield(L, -2, "lna");
    lt_pushtensor(L, rec.bpf); lua_setfield(L, -2, "bpf");
    lt_pushtensor(L, rec.rect); lua_setfield(L, -2, "rect");
    lt_pushtensor(L, rec.spikes_pre); lua_setfield(L, -2, "spikes_pre");
  } else {
    lua_pushnil(L);
  }
  return 3;
}

static int l_design_bandpass(lua_State *L) {
  double sos[2][6];
  int s, i;
  lp_afe2_design_bandpass(luaL_checknumber(L, 1), luaL_checknumber(L, 2), luaL_checknumber(L, 3), sos);
  lua_createtable(L, 2, 0);
  for (s = 0; s < 2; s++) {
    lua_createtable(L, 6, 0);
    for (i = 0; i < 6; i++) { lua_pushnumber(L, sos[s][i]); lua_rawseti(L, -2, i + 1); }
    lua_rawseti(L, -2, s + 1);
  }
  return 1;
}

static int l_design_highpass(lua_State *L) {
  double b[2], a[2];
  lp_afe2_design_highpass(luaL_checknumber(L, 1), luaL_checknumber(L, 2), b, a);
  lua_createtable(L, 2, 0);
  lua_pushnumber(L, b[0]); lua_rawseti(L, -2, 1); lua_pushnumber(L, b[1]); lua_rawseti(L, -2, 2);
  lua_createtable(L, 2, 0);
  lua_pushnumber(L, a[0]); lua_rawseti(L, -2, 1); lua_pushnumber(L, a[1]); lua_rawseti(L, -2, 2);
  return 2;
}

static int l_afe2_raster(lua_State *L) {
  lp_tensor *s = targ(L, 1), *r = NULL;
  lp_status st = lp_afe2_raster(lt_ctx(L), s, luaL_checknumber(L, 2), luaL_checknumber(L, 3),
                                (int)luaL_checkinteger(L, 4), &r);
  lp_tensor_release(s);
  if (st != LP_OK) return soft(L, st);
  lt_pushtensor(L, r);
  return 1;
}

/* uniform(seed, counter) -> [0, 1): the engine's counter-based generator */
static int l_uniform(lua_State *L) {
  lua_pushnumber(L, lp_random_uniform((uint64_t)luaL_checkinteger(L, 1), (uint64_t)luaL_checkinteger(L, 2)));
  return 1;
}

void lt_open_afe(lua_State *L, int mod) {
  static const luaL_Reg fns[] = {
    {"resample", l_resample}, {"quantize", l_quantize}, {"pdm_mic", l_pdm_mic}, {"pdm_fir", l_pdm_fir},
    {"fir_taps", l_fir_taps}, {"filter_coeffs", l_filter_coeffs}, {"filterbank", l_filterbank},
    {"dn3", l_dn3}, {"raster3", l_raster3}, {"lfsr10", l_lfsr10}, {"dn2", l_dn2}, {"afe2", l_afe2},
    {"design_bandpass", l_design_bandpass}, {"design_highpass", l_design_highpass},
    {"afe2_raster", l_afe2_raster}, {"uniform", l_uniform}, {NULL, NULL}};
  mod = lua_absindex(L, mod);
  luaL_newlib(L, fns);
  lua_setfield(L, mod, "_afe");
}
