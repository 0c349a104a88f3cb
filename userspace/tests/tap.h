/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A tiny TAP producer: "ok N - name" / "not ok N - name", diagnostics as
 * "# ..." lines, and a last line "N passed, N failed".
 */
#ifndef VFIOSIM_TAP_H
#define VFIOSIM_TAP_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct tap {
	int n;
	int passed;
	int failed;
	int skipped;
};

__attribute__((format(printf, 3, 4)))
static inline bool tap_ok(struct tap *t, bool ok, const char *fmt, ...)
{
	va_list ap;

	t->n++;
	if (ok)
		t->passed++;
	else
		t->failed++;
	printf("%sok %d - ", ok ? "" : "not ", t->n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	return ok;
}

static inline bool tap_int(struct tap *t, long long got, long long want,
			   const char *name)
{
	if (!tap_ok(t, got == want, "%s", name))
		printf("#   got %lld, want %lld\n", got, want);
	return got == want;
}

static inline bool tap_str(struct tap *t, const char *got, const char *want,
			   const char *name)
{
	bool ok = got && want && !strcmp(got, want);

	if (!tap_ok(t, ok, "%s", name))
		printf("#   got  '%s'\n#   want '%s'\n", got ? got : "(null)",
		       want ? want : "(null)");
	return ok;
}

static inline bool tap_has(struct tap *t, const char *got, const char *needle,
			   const char *name)
{
	bool ok = got && strstr(got, needle);

	if (!tap_ok(t, ok, "%s", name))
		printf("#   '%s'\n#   does not contain '%s'\n",
		       got ? got : "(null)", needle);
	return ok;
}

static inline bool tap_lacks(struct tap *t, const char *got,
			     const char *needle, const char *name)
{
	bool ok = got && !strstr(got, needle);

	if (!tap_ok(t, ok, "%s", name))
		printf("#   '%s'\n#   contains '%s'\n", got ? got : "(null)",
		       needle);
	return ok;
}

static inline void tap_skip(struct tap *t, const char *name,
			    const char *why)
{
	t->n++;
	t->skipped++;
	printf("ok %d - %s # SKIP %s\n", t->n, name, why);
}

static inline int tap_done(const struct tap *t)
{
	printf("1..%d\n%d passed, %d failed", t->n, t->passed, t->failed);
	if (t->skipped)
		printf(", %d skipped", t->skipped);
	putchar('\n');
	return t->failed ? 1 : 0;
}

#endif /* VFIOSIM_TAP_H */
