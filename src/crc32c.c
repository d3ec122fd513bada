/* crc32c: CRC-32C, reflected polynomial 0x82F63B78 (crc32c.h). */
#include "crc32c.h"

static uint32_t table[256];
static int ready;

/* The table is the same for every caller and computed once; a race between two first callers
 * writes the same values. downcase runs one loop thread, so there is none. */
static void make_table(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) {
            c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        }
        table[i] = c;
    }
    ready = 1;
}

uint32_t crc32c(uint32_t crc, const void *p, size_t n)
{
    if (!ready) {
        make_table();
    }
    const unsigned char *b = p;
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc = table[(crc ^ b[i]) & 0xFF] ^ (crc >> 8);
    }
    return ~crc;
}
