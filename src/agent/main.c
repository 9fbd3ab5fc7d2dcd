/* cobble: the ACME agent. Everything lives in cli.c and the modules below it. */
#include "agent/cli.h"

int main(int argc, char **argv)
{
	return cli_main(argc, argv);
}
