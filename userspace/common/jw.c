// SPDX-License-Identifier: LGPL-2.1-or-later
/* jw: the JSON writer of vfiosimctl and vfiosim-bench (see jw.h). */
#include <stdlib.h>
#include <string.h>

#include "jw.h"

/* Length of the valid UTF-8 sequence at s, or 0 if it is not one. */
static size_t utf8_len(const unsigned char *s)
{
	size_t len, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and beyond U+10FFFF are not UTF-8. */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

/* A JSON string of str; bytes that are not UTF-8 become U+FFFD. */
static json_t *jw_string(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t len, n = 0, cap = strlen(str) * 3 + 1;
	char *buf = malloc(cap);
	json_t *v;

	if (!buf)
		return NULL;
	while (*s) {
		len = utf8_len(s);
		if (!len) {
			memcpy(buf + n, "\xef\xbf\xbd", 3);	/* sysfs need not be UTF-8 */
			n += 3;
			s++;
			continue;
		}
		memcpy(buf + n, s, len);
		n += len;
		s += len;
	}
	v = json_stringn(buf, n);
	free(buf);
	return v;
}

/* Put v (a new reference) under key in the open container. */
static void jw_add(struct jw *w, const char *key, json_t *v)
{
	json_t *parent;

	if (!v || w->depth == 0) {
		json_decref(v);
		return;
	}
	parent = w->stack[w->depth - 1];
	if (json_is_object(parent))
		json_object_set_new(parent, key ? key : "", v);
	else
		json_array_append_new(parent, v);
}

static void jw_open(struct jw *w, const char *key, char c)
{
	json_t *v = c == '{' ? json_object() : json_array();

	if (w->depth == JW_MAX_DEPTH) {
		json_decref(v);
		return;
	}
	if (w->depth)
		jw_add(w, key, json_incref(v));
	w->stack[w->depth++] = v;
	if (w->depth > 1)
		json_decref(v);		/* the parent holds it */
}

static void jw_close(struct jw *w, char c)
{
	(void)c;
	if (w->depth == 0 || --w->depth > 0)
		return;
	json_dumpf(w->stack[0], w->f, JSON_PRESERVE_ORDER |
		   (w->pretty ? JSON_INDENT(2) : JSON_COMPACT));
	fputc('\n', w->f);
	json_decref(w->stack[0]);
	w->stack[0] = NULL;
}

void jw_obj_open(struct jw *w, const char *key)
{
	jw_open(w, key, '{');
}

void jw_obj_close(struct jw *w)
{
	jw_close(w, '}');
}

void jw_arr_open(struct jw *w, const char *key)
{
	jw_open(w, key, '[');
}

void jw_arr_close(struct jw *w)
{
	jw_close(w, ']');
}


void jw_str(struct jw *w, const char *key, const char *val)
{
	jw_add(w, key, jw_string(val));
}

void jw_u64(struct jw *w, const char *key, uint64_t val)
{
	jw_add(w, key, json_integer((json_int_t)val));
}

void jw_s64(struct jw *w, const char *key, int64_t val)
{
	jw_add(w, key, json_integer((json_int_t)val));
}

void jw_null(struct jw *w, const char *key)
{
	jw_add(w, key, json_null());
}

void jw_real(struct jw *w, const char *key, double val)
{
	jw_add(w, key, json_real(val));
}

void jw_bool(struct jw *w, const char *key, bool val)
{
	jw_add(w, key, json_boolean(val));
}
