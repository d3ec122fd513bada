/* crc32c: CRC-32C, reflected polynomial 0x82F63B78 (crc32c.h). */
#include "crc32c.h"

#include <string.h>

static uint32_t table[256];
static int ready; /* 1: table made; 2: the CPU has SSE 4.2's crc32 instruction */

/* The table is the same for every caller and computed once; a race between two first callers
 * writes the same values. downcase runs one loop thread, so there is none. */
static void setup(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) {
            c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        }
        table[i] = c;
    }
    ready = 1;
#if defined(__x86_64__) && defined(__GNUC__)
    if (__builtin_cpu_supports("sse4.2")) {
        ready = 2;
    }
#endif
}

static uint32_t by_table(uint32_t crc, const unsigned char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        crc = table[(crc ^ b[i]) & 0xFF] ^ (crc >> 8);
    }
    return crc;
}

#if defined(__x86_64__) && defined(__GNUC__)
/* The same CRC, eight bytes an instruction (SSE 4.2 computes CRC-32C, this polynomial). */
__attribute__((target("sse4.2"))) static uint32_t by_instruction(uint32_t crc,
                                                                 const unsigned char *b, size_t n)
{
    uint64_t c = crc;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, b, sizeof w);
        c = __builtin_ia32_crc32di(c, w);
        b += 8;
        n -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (n > 0) {
        c32 = __builtin_ia32_crc32qi(c32, *b++);
        n--;
    }
    return c32;
}
#endif

uint32_t crc32c(uint32_t crc, const void *p, size_t n)
{
    if (!ready) {
        setup();
    }
    crc = ~crc;
#if defined(__x86_64__) && defined(__GNUC__)
    if (ready == 2) {
        return ~by_instruction(crc, p, n);
    }
#endif
    return ~by_table(crc, p, n);
}
