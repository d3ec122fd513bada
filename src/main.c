/* main: reads the flags and runs the chosen role. */
#include <stdio.h>

#include "config.h"

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("downcase %s\n", DOWNCASE_VERSION);
    return 0;
}
