/* The public plain-HTTP listener (CRLs; relying parties fetch them without TLS, RFC 5280
 * §4.2.1.13 and CA/B BR §7.1.2.11.2 want http URLs). */
#ifndef COBBLE_PUBSERVER_H
#define COBBLE_PUBSERVER_H
#include <stddef.h>
#include "api.h"

struct pubserver;
/* Binds cfg->public_host:public_port on a->base. NULL with a reason in err. */
struct pubserver *pubserver_start(struct api *a, char *err, size_t errlen);
void pubserver_stop(struct pubserver *p);
/* The port it listens on (the kernel's choice when publicListen's port is 0: tests). */
int pubserver_port(const struct pubserver *p);

#endif
