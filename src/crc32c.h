/* crc32c: CRC-32C (Castagnoli), the checksum of every record downcase writes to disk (the
 * journal's records, the subscriber's state): it catches torn writes, flipped bytes and zeroed
 * blocks. Table-driven, a byte at a time: records are short, and this is not on the hot path of
 * a loop that waits for the disk. */
#ifndef DOWNCASE_CRC32C_H
#define DOWNCASE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* The CRC of p[0..n) continued from crc (start with 0). */
uint32_t crc32c(uint32_t crc, const void *p, size_t n);

#endif
