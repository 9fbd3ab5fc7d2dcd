/* Which addresses validation may connect to: outside lab mode, only public unicast. */
#ifndef COBBLE_NETPOLICY_H
#define COBBLE_NETPOLICY_H
#include <sys/socket.h>

/* 1 if the address (AF_INET / AF_INET6, binary in addr) is public unicast: not loopback,
 * private (RFC 1918, ULA fc00::/7), link-local, multicast, CGNAT 100.64/10, unspecified,
 * documentation, benchmarking, reserved (240/4, ...), IPv4-mapped/6to4/NAT64 forms of
 * those, etc. Returns 0 otherwise, and if why is non-NULL points it at a short name of the
 * range ("loopback", "private", ...). */
int netpolicy_is_public(int family, const void *addr, const char **why);
/* Same for an address in text form; 0 for unparsable text. */
int netpolicy_is_public_str(const char *ip, const char **why);

/* The addresses a validation connects to, chosen among those resolved for name (text form,
 * each at most 46 bytes): cand[0] the first allowed IPv6 address, cand[1] the first allowed
 * IPv4 one as the fallback if IPv6 cannot connect (what Let's Encrypt does). Outside lab,
 * non-public addresses are never candidates. 0 when there is at least one candidate, else -1
 * with *prob ("connection") naming the first refused address and its range; name_is_ip says
 * the name is the address itself. */
struct problem;
int netpolicy_pick(const char *name, int name_is_ip, char addrs[][46], size_t n, int lab,
                   const char *cand[2], struct problem **prob);

#endif
