// nicemu/app/byte_pattern.hpp — the payload a workload sends: a deterministic byte stream per
// (seed, stream) whose byte at any offset is computable on its own, so a receiver validates any
// chunk at any offset without keeping a copy of what was sent.
//
// Models: an endless byte stream. Byte `o` is byte `o % 8` (least significant first) of the
//   64-bit word `word(o / 8)`. Words come in blocks of kPeriodWords (a prime, 4093 words, just
//   under 32 KiB): word(i) = table[i % P] XOR block_key(i / P), where table[j] is splitmix64's
//   output function applied to (j * golden-ratio constant) XOR key, block_key(n) the same
//   function of (n * another odd constant) XOR the key's complement, and the key mixes the seed
//   and the stream number. Within a block no two words are equal (a bijection of j); the same
//   position in two blocks differs by block_key(n) XOR block_key(m), never zero. So bytes placed
//   at the wrong offset (a misplaced segment, a duplicated or skipped chunk) differ from what
//   belongs there, and two streams differ in (nearly) every word. The prime period keeps blocks
//   from lining up with pages, buffers or segment sizes.
// Not modelled: anything cryptographic (the pattern catches mistakes, not adversaries); big-endian
//   hosts (a static_assert in byte_pattern.cpp says so).
// Speed: fill and check XOR a cached table with one word per block, which compilers turn into
//   vector code: near memcpy speed. The table (32 KiB) is built once per pattern and shared by
//   copies. tests/apps-workload prints the rates.
// References: Steele, Lea, Flood, "Fast splittable pseudorandom number generators" (OOPSLA 2014)
//   for splitmix64's mixing function.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "nicemu/sim/random.hpp"

namespace nicemu::app {

// What check() found in one chunk: how many bytes differ from the pattern and where the first is.
struct PatternCheck {
  std::uint64_t mismatched_bytes = 0;
  std::optional<std::uint64_t> first_bad_offset;  // stream offset of the first differing byte

  bool ok() const { return mismatched_bytes == 0; }
};

class BytePattern {
 public:
  // Stream `stream` of pattern `seed`: bulk-tcp flow i uses (pattern_seed, i).
  BytePattern(std::uint64_t seed, std::uint64_t stream);

  // The 8 bytes at stream offsets [8 * index, 8 * index + 8), least significant byte first.
  std::uint64_t word(std::uint64_t index) const {
    return table_[static_cast<std::ptrdiff_t>(index % kPeriodWords)] ^ block_key(index / kPeriodWords);
  }
  std::byte at(std::uint64_t offset) const { return static_cast<std::byte>(word(offset >> 3) >> (8 * (offset & 7))); }

  // Writes the stream's bytes [offset, offset + out.size()) into `out`.
  void fill(std::uint64_t offset, std::span<std::byte> out) const;
  // Compares `data` with the stream's bytes [offset, offset + data.size()).
  PatternCheck check(std::uint64_t offset, std::span<const std::byte> data) const;

  static constexpr std::uint64_t kGolden = 0x9e3779b97f4a7c15ULL;  // odd: i -> i * kGolden is a bijection
  static constexpr std::uint64_t kBlockGolden = 0xd1b54a32d192ed03ULL;  // odd as well
  static constexpr std::uint64_t kPeriodWords = 4093;                  // prime

  // splitmix64's output function (a bijection on 64-bit words).
  static constexpr std::uint64_t mix(std::uint64_t z) { return sim::splitmix64_mix(z); }

 private:
  static constexpr std::uint64_t make_key(std::uint64_t seed, std::uint64_t stream) {
    return mix(mix(seed + kGolden) ^ (stream + 1) * kBlockGolden);
  }
  std::uint64_t block_key(std::uint64_t block) const { return mix(block * kBlockGolden ^ ~key_); }

  std::uint64_t key_;
  std::shared_ptr<const std::uint64_t[]> table_;  // kPeriodWords words, shared by copies
};

}  // namespace nicemu::app
