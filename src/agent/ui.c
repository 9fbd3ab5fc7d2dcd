/* Progress and error lines on stderr. Each line goes out in one write so that lines from
 * the deploy hooks and solver threads do not interleave mid-line. */
#include "agent/ui.h"
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

static enum ui_level level = UI_NORMAL;

void ui_set_level(enum ui_level l) { level = l; }
enum ui_level ui_get_level(void) { return level; }

static void emit(const char *prefix, const char *fmt, va_list ap)
{
	char line[2048];
	int n = snprintf(line, sizeof line, "%s", prefix);
	if (n < 0)
		return;
	int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	if (m < 0)
		return;
	size_t len = (size_t)n + (size_t)m;
	if (len > sizeof line - 2)
		len = sizeof line - 2;
	line[len++] = '\n';
	ssize_t w = write(2, line, len);
	(void)w;
}

void ui_step(const char *fmt, ...)
{
	if (level < UI_NORMAL)
		return;
	va_list ap;
	va_start(ap, fmt);
	emit("", fmt, ap);
	va_end(ap);
}

void ui_debug(const char *fmt, ...)
{
	if (level < UI_VERBOSE)
		return;
	va_list ap;
	va_start(ap, fmt);
	emit("debug: ", fmt, ap);
	va_end(ap);
}

void ui_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	emit("warning: ", fmt, ap);
	va_end(ap);
}

void ui_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	emit("cobble: error: ", fmt, ap);
	va_end(ap);
}
