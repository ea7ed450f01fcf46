// MD2 message digest, written from its specification (RFC 1319). The integrity check of NVIDIA's runtime
// uses it in an HMAC; nothing else here needs it.
#include "CCudaDriver.h"
#include <string.h>

/// RFC 1319's substitution table: a permutation of 0…255 built from the digits of pi.
static const unsigned char S[256] = {
    41, 46, 67, 201, 162, 216, 124, 1, 61, 54, 84, 161, 236, 240, 6, 19, 98, 167, 5, 243, 192, 199, 115, 140, 152,
    147, 43, 217, 188, 76, 130, 202, 30, 155, 87, 60, 253, 212, 224, 22, 103, 66, 111, 24, 138, 23, 229, 18, 190, 78,
    196, 214, 218, 158, 222, 73, 160, 251, 245, 142, 187, 47, 238, 122, 169, 104, 121, 145, 21, 178, 7, 63, 148, 194,
    16, 137, 11, 34, 95, 33, 128, 127, 93, 154, 90, 144, 50, 39, 53, 62, 204, 231, 191, 247, 151, 3, 255, 25, 48, 179,
    72, 165, 181, 209, 215, 94, 146, 42, 172, 86, 170, 198, 79, 184, 56, 210, 150, 164, 125, 182, 118, 252, 107, 226,
    156, 116, 4, 241, 69, 157, 112, 89, 100, 113, 135, 32, 134, 91, 207, 101, 230, 45, 168, 2, 27, 96, 37, 173, 174,
    176, 185, 246, 28, 70, 97, 105, 52, 64, 126, 15, 85, 71, 163, 35, 221, 81, 175, 58, 195, 92, 249, 206, 186, 197,
    234, 38, 44, 83, 13, 110, 133, 40, 132, 9, 211, 223, 205, 244, 65, 129, 77, 82, 106, 220, 55, 200, 108, 193, 171,
    250, 36, 225, 123, 8, 12, 189, 177, 74, 120, 136, 149, 139, 227, 99, 232, 109, 233, 203, 213, 254, 59, 0, 29, 57,
    242, 239, 183, 14, 102, 88, 208, 228, 166, 119, 114, 248, 235, 117, 75, 10, 49, 68, 80, 180, 143, 237, 31, 26,
    219, 153, 141, 51, 159, 17, 131, 20,
};

typedef struct {
    unsigned char state[48];
    unsigned char checksum[16];
    unsigned char last;  // L of the checksum loop
} md2_context;

static void md2_block(md2_context *c, const unsigned char block[16]) {
    for (int j = 0; j < 16; j++) {
        c->state[16 + j] = block[j];
        c->state[32 + j] = (unsigned char)(c->state[16 + j] ^ c->state[j]);
    }
    unsigned t = 0;
    for (int j = 0; j < 18; j++) {
        for (int k = 0; k < 48; k++) t = c->state[k] ^= S[t];
        t = (t + (unsigned)j) & 0xff;
    }
}

static void md2_checksum(md2_context *c, const unsigned char block[16]) {
    for (int j = 0; j < 16; j++) c->last = c->checksum[j] ^= S[block[j] ^ c->last];
}

void tessera_md2(const void *data, size_t length, unsigned char digest[16]) {
    md2_context c;
    memset(&c, 0, sizeof c);
    const unsigned char *p = data;
    size_t full = length / 16 * 16;
    for (size_t i = 0; i < full; i += 16) {
        md2_checksum(&c, p + i);
        md2_block(&c, p + i);
    }
    unsigned char last[16];
    size_t rest = length - full;
    memcpy(last, p + full, rest);
    memset(last + rest, (int)(16 - rest), 16 - rest);  // always 1…16 bytes of padding
    md2_checksum(&c, last);
    md2_block(&c, last);
    unsigned char checksum[16];
    memcpy(checksum, c.checksum, 16);
    md2_block(&c, checksum);
    memcpy(digest, c.state, 16);
}
