/* Prints which copy of libwhich.so the dynamic loader found. */
#include <stdio.h>

const char *which(void);

int main(void)
{
    printf("libwhich.so: %s\n", which());
    return 0;
}
