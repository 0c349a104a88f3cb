/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * jw: the JSON writer vfiosimctl and vfiosim-bench share (jansson behind a
 * small streaming interface).  Internal: not part of libvfiosim.
 *
 * Values are added in the order they are printed in text mode; each
 * top-level value is written (compact, or indented when pretty) to f
 * when it closes, one per line, so that a monitor's events stream.
 */
#ifndef VFIOSIM_JW_H
#define VFIOSIM_JW_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#define JW_MAX_DEPTH	16

struct jw {
	FILE *f;
	bool pretty;
	int depth;
	json_t *stack[JW_MAX_DEPTH];	/* [0] is owned, the rest borrowed */
};

/* key is ignored inside an array (and may be NULL there). */
void jw_obj_open(struct jw *w, const char *key);
void jw_obj_close(struct jw *w);
void jw_arr_open(struct jw *w, const char *key);
void jw_arr_close(struct jw *w);
/* Bytes that are not UTF-8 become U+FFFD. */
void jw_str(struct jw *w, const char *key, const char *val);
/* Counters and sizes; none reaches 2^63. */
void jw_u64(struct jw *w, const char *key, uint64_t val);
void jw_s64(struct jw *w, const char *key, int64_t val);
void jw_real(struct jw *w, const char *key, double val);
void jw_bool(struct jw *w, const char *key, bool val);
void jw_null(struct jw *w, const char *key);

#endif /* VFIOSIM_JW_H */
