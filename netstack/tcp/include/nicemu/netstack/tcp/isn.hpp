// nicemu/netstack/tcp/isn.hpp — initial sequence numbers.
//
// Models: RFC 6528 (and RFC 9293 §3.4.1): ISN = M + F(localip, localport, remoteip,
//   remoteport, secretkey), M a clock that ticks every 4 µs, F a keyed hash of the
//   connection's four-tuple. The secret comes from the run seed, so a run is reproducible and
//   two seeds give different ISNs.
// Not modelled: cryptographic strength (F is a strong 64-bit mixer, not SipHash/MD5: nicemu
//   defends against no attacker), periodic rekeying.
// References: RFC 6528 §3; net/core/secure_seq.c (secure_tcp_seq).
#pragma once

#include <cstdint>

#include "nicemu/netstack/wire/address.hpp"
#include "nicemu/sim/time.hpp"

namespace nicemu::netstack::tcp {

struct FourTuple {
  wire::IpAddress local_addr;
  std::uint16_t local_port = 0;
  wire::IpAddress remote_addr;
  std::uint16_t remote_port = 0;
  friend auto operator<=>(const FourTuple&, const FourTuple&) = default;
};

class IsnGenerator {
 public:
  explicit IsnGenerator(std::uint64_t secret) : secret_(secret) {}
  std::uint32_t isn(const FourTuple& t, sim::TimePoint now) const;
  // F alone (for tests and for the timestamp offset, which Linux also keys per connection).
  std::uint32_t keyed_hash(const FourTuple& t) const;

 private:
  std::uint64_t secret_;
};

}  // namespace nicemu::netstack::tcp
