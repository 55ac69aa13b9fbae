/* LD_PRELOAD fault injection for the real spool binary (tests only).
 *
 * SPOOL_FAULT_FDATASYNC_AFTER=N  fdatasync succeeds N times (really syncing),
 *                                then fails with EIO without syncing.
 * SPOOL_FAULT_FDATASYNC_DELAY_MS=N  every fdatasync first sleeps N ms (a slow disk).
 * SPOOL_FAULT_ENOSPC_FILE=PATH   while PATH exists, posix_fallocate fails
 *                                with ENOSPC (segment creation: disk full).
 * SPOOL_FAULT_NO_STATX=1         statx fails with ENOSYS (an old kernel, or a
 *                                sandbox that filters it).
 * SPOOL_FAULT_WALL_SHIFT_FILE=PATH  while PATH exists and holds a number N,
 *                                CLOCK_REALTIME reads N seconds earlier (a
 *                                wall clock stepped back); other clocks are
 *                                untouched.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *buf) {
    static int (*real)(int, const char *, int, unsigned int, struct statx *);
    if (!real) real = (int (*)(int, const char *, int, unsigned int, struct statx *))dlsym(RTLD_NEXT, "statx");
    if (getenv("SPOOL_FAULT_NO_STATX")) {
        errno = ENOSYS;
        return -1;
    }
    return real(dirfd, path, flags, mask, buf);
}

static long syncs;

int fdatasync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    const char *delay = getenv("SPOOL_FAULT_FDATASYNC_DELAY_MS");
    if (delay) {
        long ms = atol(delay);
        struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
    }
    const char *after = getenv("SPOOL_FAULT_FDATASYNC_AFTER");
    if (after && __atomic_add_fetch(&syncs, 1, __ATOMIC_SEQ_CST) > atol(after)) {
        errno = EIO;
        return -1;
    }
    return real(fd);
}

static int no_space(void) {
    const char *flag = getenv("SPOOL_FAULT_ENOSPC_FILE");
    return flag && access(flag, F_OK) == 0;
}

int posix_fallocate(int fd, off_t offset, off_t len) {
    static int (*real)(int, off_t, off_t);
    if (!real) real = (int (*)(int, off_t, off_t))dlsym(RTLD_NEXT, "posix_fallocate");
    if (no_space()) return ENOSPC;
    return real(fd, offset, len);
}

int posix_fallocate64(int fd, off_t offset, off_t len) {
    static int (*real)(int, off_t, off_t);
    if (!real) real = (int (*)(int, off_t, off_t))dlsym(RTLD_NEXT, "posix_fallocate64");
    if (no_space()) return ENOSPC;
    return real(fd, offset, len);
}

int clock_gettime(clockid_t id, struct timespec *ts) {
    static int (*real)(clockid_t, struct timespec *);
    if (!real) real = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
    int r = real(id, ts);
    const char *path = getenv("SPOOL_FAULT_WALL_SHIFT_FILE");
    if (r == 0 && id == CLOCK_REALTIME && path) {
        FILE *f = fopen(path, "r");
        if (f) {
            long shift = 0;
            if (fscanf(f, "%ld", &shift) == 1) ts->tv_sec -= shift;
            fclose(f);
        }
    }
    return r;
}
