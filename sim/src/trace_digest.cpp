#include "nicemu/sim/trace_digest.hpp"

#include "nicemu/sim/random.hpp"

#include <bit>

namespace nicemu::sim {

namespace {

// Lane a: Stafford's "Mix13" finalizer (also splitmix64's output function).
constexpr std::uint64_t mix_a(std::uint64_t x) { return splitmix64_mix(x); }

// Lane b: MurmurHash3's fmix64, a different bijection, so a word sequence that collides in one
// lane by accident is very unlikely to collide in the other.
constexpr std::uint64_t mix_b(std::uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  return x ^ (x >> 33);
}

// Marks the start of a record, so a record header can never be read as a value of the one before.
constexpr std::uint64_t kRecordTag = 0x6e69636d752d7472ULL;  // "nicmu-tr"

}  // namespace

[[gnu::always_inline]] inline void TraceDigest::absorb(std::uint64_t w) {
  a_ = mix_a(a_ ^ w);
  b_ = mix_b(b_ + std::rotl(w, 29) + 0x9e3779b97f4a7c15ULL);
}

void TraceDigest::record(TimePoint t, std::uint32_t kind, std::span<const std::uint64_t> values) {
  absorb(kRecordTag);
  absorb(static_cast<std::uint64_t>(t.ps()));
  absorb(kind);
  absorb(values.size());
  for (const std::uint64_t v : values) absorb(v);
  ++records_;
}

void TraceDigest::record(TimePoint t, std::uint32_t kind, std::initializer_list<std::uint64_t> values) {
  record(t, kind, std::span<const std::uint64_t>(values.begin(), values.size()));
}

std::string TraceDigest::hex() const {
  // Finalize a copy: fold in the record count and let each lane see the other, so the two
  // printed halves both depend on every record.
  const std::uint64_t fa = mix_a(a_ ^ records_ ^ std::rotl(b_, 17));
  const std::uint64_t fb = mix_b(b_ ^ std::rotl(records_, 32) ^ fa);
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(32, '0');
  for (int i = 0; i < 16; ++i) {
    out[static_cast<std::size_t>(i)] = kDigits[(fa >> (60 - 4 * i)) & 0xf];
    out[static_cast<std::size_t>(16 + i)] = kDigits[(fb >> (60 - 4 * i)) & 0xf];
  }
  return out;
}

}  // namespace nicemu::sim
