/* SPDX-License-Identifier: GPL-2.0 */
/*
 * TAP for the programs of the nested guests (vfiosim_nested_probe.c,
 * vfiosim_migrate_guest.c): one line per check, numbered, the plan last.
 * Each program is one translation unit that includes this once.
 */
#ifndef VFIOSIM_NESTED_TAP_H
#define VFIOSIM_NESTED_TAP_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int test_no, failures;
/* Checks added to another program's TAP: "ok - ...", not counted in a plan. */
static bool tap_unnumbered;

static void tap(bool ok, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void tap(bool ok, const char *fmt, ...)
{
	va_list ap;

	if (tap_unnumbered)
		printf("%sok - ", ok ? "" : "not ");
	else
		printf("%sok %d - ", ok ? "" : "not ", ++test_no);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	if (!ok)
		failures++;
}

static void diag(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int finish(void)
{
	if (!tap_unnumbered)
		printf("1..%d\n", test_no);
	fflush(stdout);
	return failures ? 1 : 0;
}

static void bail(const char *what)
{
	tap(false, "%s (%s)", what, strerror(errno));
	printf("Bail out! %s\n", what);
	exit(finish());
}

#endif /* VFIOSIM_NESTED_TAP_H */
