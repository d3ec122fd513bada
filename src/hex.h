/* hex: the value of one hexadecimal digit, for the parsers that read them (query.c's %XX
 * escapes, wire.c's publisher ids). Header-only: a comparison chain the compiler inlines. */
#ifndef DOWNCASE_HEX_H
#define DOWNCASE_HEX_H

/* 0-15 for 0-9, a-f and A-F; -1 for any other byte. */
static inline int hex_digit(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

#endif
