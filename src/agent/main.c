#include <stdio.h>
int main(void) { puts("cobble " COBBLE_VERSION); return 0; }
