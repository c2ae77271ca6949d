/*
 * rseq_unreached: has an rseq critical section (listed in
 * __rseq_cs_ptr_array) that never runs, and computes forever: every sweep
 * trigger in it stays unreached until the run's budget ends.
 */
__asm__(".pushsection __rseq_cs, \"aw\"\n\t"
        ".balign 32\n"
        "unreached_cs:\n\t"
        ".long 0, 0\n\t"
        ".quad unreached_start, unreached_post_commit - unreached_start, unreached_abort\n\t"
        ".popsection\n\t"
        ".pushsection __rseq_cs_ptr_array, \"aw\"\n\t"
        ".quad unreached_cs\n\t"
        ".popsection\n\t"
        ".text\n"
        "unreached_start:\n\t"
        "nop\n\t"
        "nop\n"
        "unreached_post_commit:\n\t"
        "ret\n\t"
        ".byte 0x0f, 0xb9, 0x3d\n\t"
        ".long 0x53053053\n"
        "unreached_abort:\n\t"
        "ret\n\t");

int main(void)
{
    for (;;) {
        __asm__ volatile("");
    }
}
