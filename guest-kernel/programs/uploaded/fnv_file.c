/* Prints "SIZE HASH" of a file: its byte count and 64-bit FNV-1a hash. */
#include <stdint.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    FILE *f = argc == 2 ? fopen(argv[1], "rb") : NULL;
    uint64_t hash = 0xcbf29ce484222325ull, size = 0;
    int c;

    if (!f) {
        perror("fnv_file");
        return 2;
    }
    while ((c = getc(f)) != EOF) {
        hash = (hash ^ (uint8_t)c) * 0x100000001b3ull;
        size++;
    }
    printf("%llu %llx\n", (unsigned long long)size, (unsigned long long)hash);
    return 0;
}
