/* What a person sees: one progress line per step on stderr, debug lines with --verbose,
 * one-line errors. stdout is left for --json and for `list`/`account show`. */
#ifndef COBBLE_AGENT_UI_H
#define COBBLE_AGENT_UI_H

enum ui_level { UI_QUIET, UI_NORMAL, UI_VERBOSE };
void ui_set_level(enum ui_level l);
enum ui_level ui_get_level(void);
void ui_step(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ui_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ui_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ui_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
