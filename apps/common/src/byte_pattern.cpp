// BytePattern's fill and check: whole 8-byte words in the loop (the period table XOR the block's
// key), partial words only at the ends. check() compares a run of words with one OR of XORs and
// looks at single bytes only in a run that differs, so a clean chunk costs about what fill() costs.
#include "nicemu/app/byte_pattern.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

#include "nicemu/base/cpu_clones.hpp"

namespace nicemu::app {

static_assert(std::endian::native == std::endian::little,
              "BytePattern stores words with memcpy: byte o of a word is its (o % 8)-th least significant byte");

namespace {

constexpr std::uint64_t kBlockWords = 64;  // words compared before one branch on the OR of the XORs

std::uint64_t load(const std::byte* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

void store(std::byte* p, std::uint64_t v) { std::memcpy(p, &v, 8); }

// Bytes of `d` that are not zero.
int nonzero_bytes(std::uint64_t d) {
  d |= d >> 4;
  d |= d >> 2;
  d |= d >> 1;
  return std::popcount(d & 0x0101010101010101ULL);
}

// Adds the differences of one word `d` (data XOR pattern) at stream offset `offset` to `r`.
void account(PatternCheck& r, std::uint64_t d, std::uint64_t offset) {
  if (d == 0) return;
  if (!r.first_bad_offset) r.first_bad_offset = offset + static_cast<std::uint64_t>(std::countr_zero(d) / 8);
  r.mismatched_bytes += static_cast<std::uint64_t>(nonzero_bytes(d));
}

}  // namespace

BytePattern::BytePattern(std::uint64_t seed, std::uint64_t stream) : key_(make_key(seed, stream)) {
  std::shared_ptr<std::uint64_t[]> t(new std::uint64_t[kPeriodWords]);
  for (std::uint64_t j = 0; j < kPeriodWords; ++j) t[static_cast<std::ptrdiff_t>(j)] = mix(j * kGolden ^ key_);
  table_ = std::move(t);
}

// fill and check come in two builds (function multi-versioning, picked once by the CPU at load
// time): AVX2's 32-byte vectors about halve their time over the baseline's SSE2.
NICEMU_CPU_CLONES void BytePattern::fill(std::uint64_t offset, std::span<std::byte> out) const {
  std::byte* p = out.data();
  std::size_t left = out.size();
  std::uint64_t index = offset >> 3;
  if (const auto skip = static_cast<std::size_t>(offset & 7); skip != 0 && left > 0) {
    const std::uint64_t w = word(index++);
    const std::size_t n = std::min(left, 8 - skip);
    std::byte tmp[8];
    store(tmp, w);
    std::memcpy(p, tmp + skip, n);
    p += n;
    left -= n;
  }
  // Whole words, a block at a time: the table XOR one key.
  std::uint64_t block = index / kPeriodWords;
  std::uint64_t j = index % kPeriodWords;
  while (left >= 8) {
    const std::uint64_t key = block_key(block);
    const std::size_t words = static_cast<std::size_t>(std::min<std::uint64_t>(kPeriodWords - j, left / 8));
    const std::uint64_t* t = table_.get() + j;
    for (std::size_t i = 0; i < words; ++i) store(p + 8 * i, t[i] ^ key);
    p += 8 * words;
    left -= 8 * words;
    j += words;
    if (j == kPeriodWords) j = 0, ++block;
  }
  if (left > 0) {
    std::byte tmp[8];
    store(tmp, table_.get()[j] ^ block_key(block));
    std::memcpy(p, tmp, left);
  }
}

NICEMU_CPU_CLONES PatternCheck BytePattern::check(std::uint64_t offset,
                                                                         std::span<const std::byte> data) const {
  PatternCheck r;
  const std::byte* p = data.data();
  std::size_t left = data.size();
  std::uint64_t pos = offset;  // stream offset of *p
  // The first partial word: compare its tail bytes.
  if (const auto skip = static_cast<std::size_t>(pos & 7); skip != 0 && left > 0) {
    const std::size_t n = std::min(left, 8 - skip);
    std::byte want[8];
    store(want, word(pos >> 3));
    std::byte got[8];
    std::memcpy(got, want, 8);
    std::memcpy(got + skip, p, n);
    account(r, load(got) ^ load(want), pos - skip);
    p += n;
    left -= n;
    pos += n;
  }
  std::uint64_t block = (pos >> 3) / kPeriodWords;
  std::uint64_t j = (pos >> 3) % kPeriodWords;
  while (left >= 8) {
    const std::uint64_t key = block_key(block);
    const std::size_t words = static_cast<std::size_t>(
        std::min<std::uint64_t>({kBlockWords, kPeriodWords - j, left / 8}));
    const std::uint64_t* t = table_.get() + j;
    std::uint64_t diff = 0;
    for (std::size_t i = 0; i < words; ++i) diff |= load(p + 8 * i) ^ t[i] ^ key;
    if (diff != 0) {  // rare: find the bytes
      for (std::size_t i = 0; i < words; ++i) account(r, load(p + 8 * i) ^ t[i] ^ key, pos + 8 * i);
    }
    p += 8 * words;
    pos += 8 * words;
    left -= 8 * words;
    j += words;
    if (j == kPeriodWords) j = 0, ++block;
  }
  if (left > 0) {  // the last partial word: its head bytes
    std::byte want[8];
    store(want, table_.get()[j] ^ block_key(block));
    std::byte got[8];
    std::memcpy(got, want, 8);
    std::memcpy(got, p, left);
    account(r, load(got) ^ load(want), pos);
  }
  return r;
}

}  // namespace nicemu::app
