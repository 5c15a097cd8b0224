/*
 * Vigil's hashing hot loops, in one call per group of records instead of one per hash.
 *
 * Calling OpenSSL's SHA256() once per record through Deno's FFI costs ~1 us a call, most of it
 * call overhead; the store needs two or three hashes per record. These functions walk a whole
 * group of frames (see daemon/store/frame.ts for the layout) in native code: SHA-256 through
 * OpenSSL (SHA-NI where the CPU has it) and CRC-32C with SSE4.2 where available.
 * The TypeScript code keeps a pure fallback for hosts where this library is not built.
 */
/* The low-level SHA256_* calls: OpenSSL 3's one-shot SHA256() looks the algorithm up through
 * its provider machinery on every call, which costs more than hashing a small record. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <stdint.h>
#include <string.h>

#define CHAIN 32
#define OVERHEAD 8
#define FRAME_EVENT 0

static uint32_t crc_table[8][256];
static int crc_ready = 0;
static int have_sse42 = -1;

static void crc_init(void) {
  for (uint32_t n = 0; n < 256; n++) {
    uint32_t c = n;
    for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
    crc_table[0][n] = c;
  }
  for (uint32_t n = 0; n < 256; n++) {
    uint32_t c = crc_table[0][n];
    for (int t = 1; t < 8; t++) {
      c = crc_table[0][c & 0xff] ^ (c >> 8);
      crc_table[t][n] = c;
    }
  }
  crc_ready = 1;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(const uint8_t *p, size_t n) {
  uint64_t c = 0xffffffffu;
  while (n >= 8) {
    uint64_t v;
    memcpy(&v, p, 8);
    c = __builtin_ia32_crc32di(c, v);
    p += 8;
    n -= 8;
  }
  uint32_t c32 = (uint32_t)c;
  while (n--) c32 = __builtin_ia32_crc32qi(c32, *p++);
  return ~c32;
}
#endif

static uint32_t crc32c_sw(const uint8_t *p, size_t n) {
  uint32_t c = 0xffffffffu;
  while (n--) c = crc_table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
  return ~c;
}

static uint32_t crc32c(const uint8_t *p, size_t n) {
  if (!crc_ready) crc_init();
#if defined(__x86_64__)
  if (have_sse42 < 0) have_sse42 = __builtin_cpu_supports("sse4.2") ? 1 : 0;
  if (have_sse42) return crc32c_hw(p, n);
#endif
  return crc32c_sw(p, n);
}

static inline void sha256(const uint8_t *p, size_t n, uint8_t *out) {
  SHA256_CTX c;
  SHA256_Init(&c);
  SHA256_Update(&c, p, n);
  SHA256_Final(out, &c);
}

static inline uint32_t get_be32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline void put_be32(uint8_t *p, uint32_t v) {
  p[0] = v >> 24;
  p[1] = v >> 16;
  p[2] = v >> 8;
  p[3] = v;
}

/* CRC-32C of p[0..n), for the self test against the TypeScript implementation. */
uint32_t vigil_crc32c(const uint8_t *p, int32_t n) { return crc32c(p, (size_t)n); }

/*
 * Write path: for each frame at buf + frames[i] (length and body already in place), hash the
 * event's leaf, advance the chain, and write the chain and the CRC into the frame.
 * chain: 32 bytes in/out. leaves: room for one 32-byte hash per event frame.
 * Returns the number of leaves written.
 */
int32_t vigil_seal_frames(uint8_t *buf, const int32_t *frames, int32_t count, uint8_t *chain,
                          uint8_t *leaves) {
  uint8_t link[64];
  int32_t n = 0;
  for (int32_t i = 0; i < count; i++) {
    uint8_t *f = buf + frames[i];
    uint32_t len = get_be32(f);
    uint8_t *p = f + OVERHEAD;
    if (p[CHAIN] == FRAME_EVENT) {
      memcpy(link, chain, 32);
      sha256(p + CHAIN, len - CHAIN, link + 32);
      memcpy(leaves + 32 * n, link + 32, 32);
      sha256(link, 64, chain);
      n++;
    }
    memcpy(p, chain, 32);
    put_be32(f + 4, crc32c(p, len));
  }
  return n;
}

/* Parses the seq of canonical JSON `{"seq":<digits>`; -1 if the body does not start so. */
static int64_t peek_seq(const uint8_t *b, size_t n) {
  static const char prefix[] = "{\"seq\":";
  size_t k = sizeof(prefix) - 1;
  if (n < k + 1 || memcmp(b, prefix, k) != 0) return -1;
  int64_t v = 0;
  size_t i = k, digits = 0;
  for (; i < n && b[i] >= '0' && b[i] <= '9' && digits < 17; i++, digits++) v = v * 10 + (b[i] - '0');
  if (digits == 0 || digits > 16 || (b[k] == '0' && digits > 1)) return -1;
  return v;
}

/*
 * Verify path: checks the CRC, seq and chain link of each frame at buf + frames[i] and collects
 * the leaf hashes. chain: 32 bytes in/out (the chain head before the first frame). *seq: the
 * seq the first event must have, in/out. Returns the index of the first bad frame, or count;
 * *reason: 1 CRC mismatch, 2 chain hash mismatch, 3 position record chain mismatch, 4 seq.
 */
int32_t vigil_verify_frames(const uint8_t *buf, const int32_t *frames, int32_t count,
                            uint8_t *chain, double *seq, uint8_t *leaves, int32_t *reason) {
  uint8_t link[64], next[32];
  int64_t want = (int64_t)*seq;
  int32_t n = 0;
  *reason = 0;
  for (int32_t i = 0; i < count; i++) {
    const uint8_t *f = buf + frames[i];
    uint32_t len = get_be32(f);
    const uint8_t *p = f + OVERHEAD;
    if (crc32c(p, len) != get_be32(f + 4)) {
      *reason = 1;
      *seq = (double)want;
      return i;
    }
    if (p[CHAIN] == FRAME_EVENT) {
      if (peek_seq(p + CHAIN + 1, len - CHAIN - 1) != want) {
        *reason = 4;
        *seq = (double)want;
        return i;
      }
      memcpy(link, chain, 32);
      sha256(p + CHAIN, len - CHAIN, link + 32);
      sha256(link, 64, next);
      if (memcmp(next, p, 32) != 0) {
        *reason = 2;
        *seq = (double)want;
        return i;
      }
      memcpy(chain, next, 32);
      memcpy(leaves + 32 * n, link + 32, 32);
      n++;
      want++;
    } else if (memcmp(chain, p, 32) != 0) {
      *reason = 3;
      *seq = (double)want;
      return i;
    }
  }
  *seq = (double)want;
  return count;
}

/*
 * Read path: checks the CRC of each frame at buf + frames[i] (its payload length and CRC in its
 * header). Returns the index of the first frame whose CRC is wrong or that does not lie within
 * buf[0..size), or count.
 */
int32_t vigil_check_crcs(const uint8_t *buf, int32_t size, const int32_t *frames, int32_t count) {
  for (int32_t i = 0; i < count; i++) {
    int64_t off = frames[i];
    if (off < 0 || off + OVERHEAD > size) return i;
    const uint8_t *f = buf + off;
    uint32_t len = get_be32(f);
    if ((int64_t)len > size - off - OVERHEAD) return i;
    if (crc32c(f + OVERHEAD, len) != get_be32(f + 4)) return i;
  }
  return count;
}

/* out[i] = SHA-256(0x01 || in[2i] || in[2i+1]) for i < pairs: one level of a Merkle tree. */
void vigil_node_pairs(const uint8_t *in, int32_t pairs, uint8_t *out) {
  uint8_t m[65];
  m[0] = 1;
  for (int32_t i = 0; i < pairs; i++) {
    memcpy(m + 1, in + 64 * (size_t)i, 64);
    sha256(m, 65, out + 32 * (size_t)i);
  }
}

/* SHA-256 of p[0..n) into out: the per-call path, without the one-shot lookup cost. */
void vigil_sha256(const uint8_t *p, int32_t n, uint8_t *out) { sha256(p, (size_t)n, out); }
