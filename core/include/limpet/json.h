/*
** core/include/limpet/json.h -- the numeric arrays of JSON documents.
** Owns: reading a rectangular JSON array of numbers (nested to any depth up
** to LP_MAXDIM) straight into a float64 tensor, and writing a tensor as such
** an array. Everything else in JSON (objects, strings, literals, ragged or
** mixed arrays) goes through libjansson in lua/l_json.c. Why our own code
** here: a full-size Xylo configuration holds 2 M integers in 1 M two-element
** arrays; jansson builds one heap node per value (0.5 s to parse 6 MB, and
** lua-cjson 0.6 s into Lua tables, measured on this project's machine),
** while this scanner fills the tensor directly (see bench/json.lua).
** Implemented in core/src/json_num.c.
*/
#ifndef LIMPET_JSON_H
#define LIMPET_JSON_H

#include "limpet/tensor.h"

/* text[0] must be '['. On LP_OK, *out is a float64 tensor whose shape is the
   nesting (caller owns it) and *used the bytes consumed, closing bracket
   included. LP_EFORMAT when the text is not a non-empty rectangular array of
   JSON numbers (a string, an object, a ragged row, a malformed number...):
   nothing is allocated and the caller is expected to fall back on a general
   parser, which reports the error in its own words. LP_ESIZE / LP_ENOMEM as
   usual. */
lp_status lp_json_read_numbers(lp_ctx *ctx, const char *text, size_t len, size_t *used,
                               lp_tensor **out);

/* The JSON text of t as nested arrays, compact (no spaces): integer and bool
   dtypes as integers (bools as 0/1), floats in the shortest of %.15g/%.17g
   that reads back to the same double, with ".0" kept on integral values.
   NaN and infinities are refused (LP_EARG, operand 1). A 0-d tensor gives a
   bare number. *buf is malloc'd (caller frees), not NUL-terminated. */
lp_status lp_json_write_numbers(lp_ctx *ctx, const lp_tensor *t, char **buf, size_t *len);

#endif
