/* spin: a user program that computes forever and never makes a system call. */
int main(void)
{
    for (;;) {
        __asm__ volatile("");
    }
}
