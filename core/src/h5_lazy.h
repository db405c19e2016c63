/*
** core/src/h5_lazy.h -- private: libhdf5 loaded on first use (issue 17).
** Owns: the list of libhdf5 symbols that h5.c and h5w.c use, the table of
** pointers to them, and macros that send those files' calls through the
** table. libhdf5 and the 35 libraries it needs (curl, ssl, krb5, ...) were
** half of `limpet -e ''`'s start-up (35.4 M instructions, 17 M of them
** relocating them: valgrind --tool=callgrind); a script that never opens
** an HDF5 file now never loads them. Include after <hdf5.h>; every entry
** point that can run first (lp_h5_open, lp_h5w_create) calls
** lp_h5_load(ctx) before any other libhdf5 call.
*/
#ifndef LIMPET_H5_LAZY_H
#define LIMPET_H5_LAZY_H

#include <hdf5.h>
#include "limpet/core.h"

/* functions (X) and variables (V) of libhdf5 used by h5.c and h5w.c; a
   symbol missing here is an undefined reference at link time (liblimpet
   does not link libhdf5) */
#define LP_H5_SYMBOLS(X, V)                                                                               \
  X(H5Aclose) X(H5Aexists) X(H5Aget_space) X(H5Aget_type) X(H5Aiterate2) X(H5Aopen) X(H5Aread)             \
  X(H5Dclose) X(H5Dcreate2) X(H5Dget_chunk_info) X(H5Dget_create_plist) X(H5Dget_num_chunks)              \
  X(H5Dget_offset) X(H5Dget_space) X(H5Dget_storage_size) X(H5Dget_type) X(H5Dread) X(H5Dvlen_reclaim) X(H5Dwrite)               \
  X(H5Eclear2) X(H5Eget_auto2) X(H5Eset_auto2) X(H5Ewalk2) X(H5FD_sec2_init) X(H5Fclose) X(H5Fcreate)     \
  X(H5Fget_access_plist) X(H5Fget_create_plist) X(H5Fget_filesize) X(H5Fget_vfd_handle) X(H5Fis_hdf5)    \
  X(H5Fopen) X(H5Gclose) X(H5Gcreate2) X(H5Iget_type) X(H5Lexists) X(H5Literate) X(H5Oclose) X(H5Oget_info2) X(H5Oget_info_by_name2) X(H5Oopen)   \
  X(H5Pclose) X(H5Pcreate) X(H5Pget_driver) X(H5Pget_layout) X(H5Pget_nfilters) X(H5Pget_sizes) X(H5Pget_sym_k) X(H5Pget_userblock)           \
  X(H5Pset_chunk) X(H5Pset_deflate) X(H5Sclose) X(H5Screate) X(H5Screate_simple)                          \
  X(H5Sget_simple_extent_dims) X(H5Sget_simple_extent_ndims) X(H5Sselect_hyperslab) X(H5Tclose)           \
  X(H5Tcopy) X(H5Tget_class) X(H5Tget_cset) X(H5Tget_sign) X(H5Tget_size) X(H5Tget_super)                 \
  X(H5Tis_variable_str) X(H5Tset_cset) X(H5Tset_size) X(H5Tset_strpad) X(H5Tvlen_create)                  \
  X(H5check_version) X(H5open)                                                                            \
  V(H5P_CLS_DATASET_CREATE_ID_g) V(H5T_C_S1_g) V(H5T_NATIVE_DOUBLE_g) V(H5T_NATIVE_FLOAT_g)               \
  V(H5T_NATIVE_INT16_g) V(H5T_NATIVE_INT32_g) V(H5T_NATIVE_INT64_g) V(H5T_NATIVE_INT8_g)                  \
  V(H5T_NATIVE_UINT8_g)

#define LP_H5_FIELD_FN(s) __typeof__(s) *s;
#define LP_H5_FIELD_VAR(s) __typeof__(s) *s;
typedef struct lp_h5_api {
  LP_H5_SYMBOLS(LP_H5_FIELD_FN, LP_H5_FIELD_VAR)
} lp_h5_api;
#undef LP_H5_FIELD_FN
#undef LP_H5_FIELD_VAR

/* Loads libhdf5 once per process (thread-safe); LP_OK, or LP_EIO with
   dlopen's / dlsym's message recorded in ctx. */
lp_status lp_h5_load(lp_ctx *ctx);
/* The table; only after lp_h5_load returned LP_OK. */
const lp_h5_api *lp_h5_api_get(void);

#ifndef LP_H5_LAZY_IMPL
#define LP_H5_CALL_FN(s) (lp_h5_api_get()->s)
#define LP_H5_CALL_VAR(s) (*lp_h5_api_get()->s)
#define H5Aclose LP_H5_CALL_FN(H5Aclose)
#define H5Aexists LP_H5_CALL_FN(H5Aexists)
#define H5Aget_space LP_H5_CALL_FN(H5Aget_space)
#define H5Aget_type LP_H5_CALL_FN(H5Aget_type)
#define H5Aiterate2 LP_H5_CALL_FN(H5Aiterate2)
#define H5Aopen LP_H5_CALL_FN(H5Aopen)
#define H5Aread LP_H5_CALL_FN(H5Aread)
#define H5Dclose LP_H5_CALL_FN(H5Dclose)
#define H5Dcreate2 LP_H5_CALL_FN(H5Dcreate2)
#define H5Dget_chunk_info LP_H5_CALL_FN(H5Dget_chunk_info)
#define H5Dget_create_plist LP_H5_CALL_FN(H5Dget_create_plist)
#define H5Dget_num_chunks LP_H5_CALL_FN(H5Dget_num_chunks)
#define H5Dget_offset LP_H5_CALL_FN(H5Dget_offset)
#define H5Dget_space LP_H5_CALL_FN(H5Dget_space)
#define H5Dget_storage_size LP_H5_CALL_FN(H5Dget_storage_size)
#define H5Dget_type LP_H5_CALL_FN(H5Dget_type)
#define H5Dread LP_H5_CALL_FN(H5Dread)
#define H5Dvlen_reclaim LP_H5_CALL_FN(H5Dvlen_reclaim)
#define H5Dwrite LP_H5_CALL_FN(H5Dwrite)
#define H5Eclear2 LP_H5_CALL_FN(H5Eclear2)
#define H5Eget_auto2 LP_H5_CALL_FN(H5Eget_auto2)
#define H5Eset_auto2 LP_H5_CALL_FN(H5Eset_auto2)
#define H5Ewalk2 LP_H5_CALL_FN(H5Ewalk2)
#define H5FD_sec2_init LP_H5_CALL_FN(H5FD_sec2_init)
#define H5Fclose LP_H5_CALL_FN(H5Fclose)
#define H5Fcreate LP_H5_CALL_FN(H5Fcreate)
#define H5Fget_access_plist LP_H5_CALL_FN(H5Fget_access_plist)
#define H5Fget_create_plist LP_H5_CALL_FN(H5Fget_create_plist)
#define H5Fget_filesize LP_H5_CALL_FN(H5Fget_filesize)
#define H5Fget_vfd_handle LP_H5_CALL_FN(H5Fget_vfd_handle)
#define H5Fis_hdf5 LP_H5_CALL_FN(H5Fis_hdf5)
#define H5Fopen LP_H5_CALL_FN(H5Fopen)
#define H5Gclose LP_H5_CALL_FN(H5Gclose)
#define H5Gcreate2 LP_H5_CALL_FN(H5Gcreate2)
#define H5Iget_type LP_H5_CALL_FN(H5Iget_type)
#define H5Lexists LP_H5_CALL_FN(H5Lexists)
#define H5Literate LP_H5_CALL_FN(H5Literate)
#define H5Oclose LP_H5_CALL_FN(H5Oclose)
#define H5Oget_info2 LP_H5_CALL_FN(H5Oget_info2)
#define H5Oget_info_by_name2 LP_H5_CALL_FN(H5Oget_info_by_name2)
#define H5Oopen LP_H5_CALL_FN(H5Oopen)
#define H5Pclose LP_H5_CALL_FN(H5Pclose)
#define H5Pcreate LP_H5_CALL_FN(H5Pcreate)
#define H5Pget_driver LP_H5_CALL_FN(H5Pget_driver)
#define H5Pget_layout LP_H5_CALL_FN(H5Pget_layout)
#define H5Pget_nfilters LP_H5_CALL_FN(H5Pget_nfilters)
#define H5Pget_sizes LP_H5_CALL_FN(H5Pget_sizes)
#define H5Pget_sym_k LP_H5_CALL_FN(H5Pget_sym_k)
#define H5Pget_userblock LP_H5_CALL_FN(H5Pget_userblock)
#define H5Pset_chunk LP_H5_CALL_FN(H5Pset_chunk)
#define H5Pset_deflate LP_H5_CALL_FN(H5Pset_deflate)
#define H5Sclose LP_H5_CALL_FN(H5Sclose)
#define H5Screate LP_H5_CALL_FN(H5Screate)
#define H5Screate_simple LP_H5_CALL_FN(H5Screate_simple)
#define H5Sget_simple_extent_dims LP_H5_CALL_FN(H5Sget_simple_extent_dims)
#define H5Sget_simple_extent_ndims LP_H5_CALL_FN(H5Sget_simple_extent_ndims)
#define H5Sselect_hyperslab LP_H5_CALL_FN(H5Sselect_hyperslab)
#define H5Tclose LP_H5_CALL_FN(H5Tclose)
#define H5Tcopy LP_H5_CALL_FN(H5Tcopy)
#define H5Tget_class LP_H5_CALL_FN(H5Tget_class)
#define H5Tget_cset LP_H5_CALL_FN(H5Tget_cset)
#define H5Tget_sign LP_H5_CALL_FN(H5Tget_sign)
#define H5Tget_size LP_H5_CALL_FN(H5Tget_size)
#define H5Tget_super LP_H5_CALL_FN(H5Tget_super)
#define H5Tis_variable_str LP_H5_CALL_FN(H5Tis_variable_str)
#define H5Tset_cset LP_H5_CALL_FN(H5Tset_cset)
#define H5Tset_size LP_H5_CALL_FN(H5Tset_size)
#define H5Tset_strpad LP_H5_CALL_FN(H5Tset_strpad)
#define H5Tvlen_create LP_H5_CALL_FN(H5Tvlen_create)
#define H5check_version LP_H5_CALL_FN(H5check_version)
#define H5open LP_H5_CALL_FN(H5open)
#define H5P_CLS_DATASET_CREATE_ID_g LP_H5_CALL_VAR(H5P_CLS_DATASET_CREATE_ID_g)
#define H5T_C_S1_g LP_H5_CALL_VAR(H5T_C_S1_g)
#define H5T_NATIVE_DOUBLE_g LP_H5_CALL_VAR(H5T_NATIVE_DOUBLE_g)
#define H5T_NATIVE_FLOAT_g LP_H5_CALL_VAR(H5T_NATIVE_FLOAT_g)
#define H5T_NATIVE_INT16_g LP_H5_CALL_VAR(H5T_NATIVE_INT16_g)
#define H5T_NATIVE_INT32_g LP_H5_CALL_VAR(H5T_NATIVE_INT32_g)
#define H5T_NATIVE_INT64_g LP_H5_CALL_VAR(H5T_NATIVE_INT64_g)
#define H5T_NATIVE_INT8_g LP_H5_CALL_VAR(H5T_NATIVE_INT8_g)
#define H5T_NATIVE_UINT8_g LP_H5_CALL_VAR(H5T_NATIVE_UINT8_g)
#endif

#endif
