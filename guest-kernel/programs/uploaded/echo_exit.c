/* Prints its arguments and exits with the first one as its status. */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        printf("%s%c", argv[i], i + 1 < argc ? ' ' : '\n');
    }
    return argc > 1 ? atoi(argv[1]) : 0;
}
