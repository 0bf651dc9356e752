// Names for the wire enums (counters, logs, test messages).
#include "nicemu/netstack/wire/error.hpp"

#include "nicemu/netstack/wire/packet.hpp"

namespace nicemu::netstack::wire {

const char* to_string(WireError e) {
  switch (e) {
    case WireError::kTruncated:
      return "truncated";
    case WireError::kBadLength:
      return "bad_length";
    case WireError::kBadVersion:
      return "bad_version";
    case WireError::kBadChecksum:
      return "bad_checksum";
    case WireError::kBadOption:
      return "bad_option";
    case WireError::kUnsupported:
      return "unsupported";
    case WireError::kFragment:
      return "fragment";
    case WireError::kMalformed:
      return "malformed";
    case WireError::kTooManyExtensions:
      return "too_many_extensions";
  }
  return "unknown";
}

const char* to_string(L3Kind k) {
  switch (k) {
    case L3Kind::kNone:
      return "none";
    case L3Kind::kArp:
      return "arp";
    case L3Kind::kIpv4:
      return "ipv4";
    case L3Kind::kIpv6:
      return "ipv6";
  }
  return "unknown";
}

const char* to_string(L4Kind k) {
  switch (k) {
    case L4Kind::kNone:
      return "none";
    case L4Kind::kTcp:
      return "tcp";
    case L4Kind::kUdp:
      return "udp";
    case L4Kind::kIcmpv4:
      return "icmpv4";
    case L4Kind::kIcmpv6:
      return "icmpv6";
  }
  return "unknown";
}

const char* to_string(PacketLayer l) {
  switch (l) {
    case PacketLayer::kL2:
      return "l2";
    case PacketLayer::kL3:
      return "l3";
    case PacketLayer::kL4:
      return "l4";
  }
  return "unknown";
}

}  // namespace nicemu::netstack::wire
