/*
 * Wrappers of the faultline guest's pkey_get and pkey_set system calls
 * (guest-kernel/patches: the 2016 proposal's ABI). glibc already has
 * library functions named pkey_get and pkey_set that read and write PKRU
 * directly, so these are sys_pkey_get and sys_pkey_set. Build with the
 * guest kernel's installed headers first on the include path: they give
 * __NR_pkey_get and __NR_pkey_set.
 */
#ifndef FAULTLINE_PKEY_SYSCALLS_H
#define FAULTLINE_PKEY_SYSCALLS_H

#include <asm/unistd.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The calling thread's rights for pkey (PKEY_DISABLE_ACCESS | PKEY_DISABLE_WRITE). */
static inline int sys_pkey_get(int pkey, unsigned long flags)
{
    return syscall(__NR_pkey_get, pkey, flags);
}

static inline int sys_pkey_set(int pkey, unsigned long rights, unsigned long flags)
{
    return syscall(__NR_pkey_set, pkey, rights, flags);
}

#endif
