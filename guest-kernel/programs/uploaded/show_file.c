/* Prints a file's contents (the guest has no cat). */
#include <stdio.h>

int main(int argc, char **argv)
{
    FILE *f = argc == 2 ? fopen(argv[1], "r") : NULL;
    int c;

    if (!f) {
        perror("show_file");
        return 2;
    }
    while ((c = getc(f)) != EOF) {
        putchar(c);
    }
    return 0;
}
