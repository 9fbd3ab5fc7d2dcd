/* libFuzzer target for the tls-alpn-01 certificate checks (RFC 8737 §3): the input is a DER
 * certificate as a server would present it, checked for a dns and an ip identifier; any
 * verdict, never a crash or overread. */
#include <stddef.h>
#include <stdint.h>

#include "validation/tlsalpn01.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[512];
	int a = tlsalpn01_check_cert_der(data, size, "dns", "good.test", "tok3n.keyauth", why, sizeof why);
	int b = tlsalpn01_check_cert_der(data, size, "ip", "127.0.0.1", "tok3n.keyauth", why, sizeof why);
	if (a < -1 || a > 1 || b < -1 || b > 1)
		__builtin_trap();
	return 0;
}
