/* Unit test for crc32c: the check values of CRC-32C (RFC 3720 appendix B.4, and "123456789"),
 * continuation across calls, and the table and instruction paths agreeing on every length. */
#include "crc32c.h"
#include "check.h"

int main(void)
{
    static const unsigned char zeros[32] = {0};
    unsigned char ones[32], inc[32], dec[32];
    for (int i = 0; i < 32; i++) {
        ones[i] = 0xFF;
        inc[i] = (unsigned char)i;
        dec[i] = (unsigned char)(31 - i);
    }
    CHECK(crc32c(0, "123456789", 9) == 0xE3069283u);
    CHECK(crc32c(0, zeros, 32) == 0x8A9136AAu);
    CHECK(crc32c(0, ones, 32) == 0x62A8AB43u);
    CHECK(crc32c(0, inc, 32) == 0x46DD794Eu);
    CHECK(crc32c(0, dec, 32) == 0x113FDB5Cu);
    CHECK(crc32c(0, "", 0) == 0);
    /* Continuing a CRC over a split buffer gives the CRC of the whole, at every split and length
     * (lengths around 8 exercise the word loop and its byte tail). */
    unsigned char buf[100];
    for (int i = 0; i < 100; i++) {
        buf[i] = (unsigned char)(i * 37 + 11);
    }
    int bad = 0;
    for (size_t len = 0; len <= sizeof buf; len++) {
        uint32_t whole = crc32c(0, buf, len);
        for (size_t cut = 0; cut <= len; cut++) {
            if (crc32c(crc32c(0, buf, cut), buf + cut, len - cut) != whole) {
                bad++;
            }
        }
    }
    CHECK(bad == 0);
    return CHECK_DONE();
}
