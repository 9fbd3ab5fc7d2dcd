/* Problem documents: build, serialise, parse back from storage.
 * Types are ACME URNs (RFC 8555 §6.7); status codes follow the table there. */
#include "problem.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct problem *problem_new(const char *type, int status, const char *fmt, ...)
{
	struct problem *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	if (strncmp(type, "urn:", 4) == 0 || strncmp(type, "about:", 6) == 0) {
		p->type = strdup(type);
	} else {
		size_t n = strlen(PROBLEM_NS) + strlen(type) + 1;
		p->type = malloc(n);
		if (p->type)
			snprintf(p->type, n, "%s%s", PROBLEM_NS, type);
	}
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&p->detail, fmt, ap) < 0)
		p->detail = NULL;
	va_end(ap);
	p->status = status;
	if (!p->type || !p->detail) {
		problem_free(p);
		return NULL;
	}
	return p;
}

void problem_free(struct problem *p)
{
	if (!p)
		return;
	free(p->type);
	free(p->detail);
	json_decref(p->identifier);
	json_decref(p->subproblems);
	json_decref(p->extra);
	free(p);
}

void problem_add_sub(struct problem *p, struct problem *sub)
{
	if (!p || !sub)
		return;
	if (!p->subproblems)
		p->subproblems = json_array();
	json_array_append_new(p->subproblems, problem_to_json(sub));
	problem_free(sub);
}

json_t *problem_to_json(const struct problem *p)
{
	json_t *j = json_object();
	json_object_set_new(j, "type", json_string(p->type));
	json_object_set_new(j, "detail", json_string(p->detail));
	json_object_set_new(j, "status", json_integer(p->status));
	if (p->identifier)
		json_object_set(j, "identifier", p->identifier);
	if (p->subproblems && json_array_size(p->subproblems) > 0)
		json_object_set(j, "subproblems", p->subproblems);
	if (json_is_object(p->extra)) {
		const char *k;
		json_t *v;
		json_object_foreach(p->extra, k, v)
		{
			if (!json_object_get(j, k))
				json_object_set(j, k, v);
		}
	}
	return j;
}

struct problem *problem_from_json(const json_t *j)
{
	const char *type = json_string_value(json_object_get(j, "type"));
	const char *detail = json_string_value(json_object_get(j, "detail"));
	json_int_t status = json_integer_value(json_object_get(j, "status"));
	if (!type)
		return NULL;
	struct problem *p = problem_new(type, status ? (int)status : 400, "%s", detail ? detail : "");
	if (!p)
		return NULL;
	json_t *id = json_object_get(j, "identifier");
	if (json_is_object(id))
		p->identifier = json_incref(id);
	json_t *subs = json_object_get(j, "subproblems");
	if (json_is_array(subs))
		p->subproblems = json_incref(subs);
	return p;
}

const char *problem_short_type(const struct problem *p)
{
	size_t n = strlen(PROBLEM_NS);
	if (strncmp(p->type, PROBLEM_NS, n) == 0)
		return p->type + n;
	return p->type;
}
