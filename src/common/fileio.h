/* File helpers: bounded reads, atomic writes (temp file, fsync, rename, fsync dir). */
#ifndef COBBLE_FILEIO_H
#define COBBLE_FILEIO_H
#include <stddef.h>
#include <sys/types.h>

/* Writes data to path atomically with the given mode (0600 for secrets). 0 or -1 (errno set). */
int file_write_atomic(const char *path, const void *data, size_t len, mode_t mode);
/* Reads at most max bytes; a larger file fails with errno EFBIG. *out is NUL-terminated. */
int file_read_all(const char *path, size_t max, char **out, size_t *outlen);
/* mkdir -p with mode for the last component; 0 or -1. */
int file_mkdirs(const char *path, mode_t mode);

#endif
