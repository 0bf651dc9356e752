// Builds whole Ethernet frames (as a NIC receives them) with netstack/wire's emitters: TCP or
// UDP over IPv4 or IPv6, with or without TCP options, with a payload of a known pattern, and
// Ethernet padding up to 60 bytes. For NIC-model tests (steering, header split, DMA).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "nicemu/netstack/wire/wire.hpp"

namespace nicemu::testing {

struct FrameSpec {
  bool v6 = false;
  bool udp = false;
  netstack::wire::IpAddress src = netstack::wire::Ipv4Address{{192, 0, 2, 1}};
  netstack::wire::IpAddress dst = netstack::wire::Ipv4Address{{192, 0, 2, 2}};
  std::uint16_t sport = 40000, dport = 5001;
  std::uint32_t payload_len = 0;
  std::uint8_t payload_salt = 0;   // payload byte i = (i * 7 + salt) & 0xff
  bool tcp_timestamps = false;     // 12 bytes of TCP options (NOP NOP TS)
  std::uint8_t tcp_flags = 0x10;   // ACK
};

inline std::byte frame_payload_byte(std::uint32_t i, std::uint8_t salt) {
  return static_cast<std::byte>((i * 7u + salt) & 0xffu);
}

// The frame's bytes from the destination MAC on (no FCS), padded to 60 bytes.
inline std::vector<std::byte> build_frame(const FrameSpec& s) {
  namespace w = netstack::wire;
  std::vector<std::byte> payload(s.payload_len);
  for (std::uint32_t i = 0; i < s.payload_len; ++i) payload[i] = frame_payload_byte(i, s.payload_salt);

  std::vector<std::byte> l4;
  if (s.udp) {
    w::UdpRepr u;
    u.src_port = s.sport;
    u.dst_port = s.dport;
    u.payload = payload;
    l4.resize(u.buffer_len());
    u.emit(l4, s.src, s.dst, w::ChecksumCaps::software());
  } else {
    w::TcpRepr t;
    t.src_port = s.sport;
    t.dst_port = s.dport;
    t.seq_number = 1000;
    t.ack_number = 2000;
    t.flags = w::TcpFlags{s.tcp_flags};
    t.window = 65535;
    if (s.tcp_timestamps) t.options.timestamps = w::TcpTimestamps{12345, 678};
    t.payload = payload;
    l4.resize(t.buffer_len());
    t.emit(l4, s.src, s.dst, w::ChecksumCaps::software());
  }

  std::vector<std::byte> f(14);
  w::EthernetRepr eth;
  eth.dst = w::MacAddress{{0x02, 0, 0, 0, 0, 2}};
  eth.src = w::MacAddress{{0x02, 0, 0, 0, 0, 1}};
  eth.ethertype = s.v6 ? w::ethertype::kIpv6 : w::ethertype::kIpv4;
  eth.emit(f);
  const std::uint8_t proto = s.udp ? w::ip_protocol::kUdp : w::ip_protocol::kTcp;
  if (s.v6) {
    w::Ipv6Repr ip;
    ip.src = s.src.v6();
    ip.dst = s.dst.v6();
    ip.next_header = proto;
    ip.payload_len = static_cast<std::uint16_t>(l4.size());
    f.resize(14 + w::Ipv6Repr::kHeaderLen);
    ip.emit(std::span(f).subspan(14));
  } else {
    w::Ipv4Repr ip;
    ip.src = s.src.v4();
    ip.dst = s.dst.v4();
    ip.protocol = proto;
    ip.payload_len = static_cast<std::uint16_t>(l4.size());
    f.resize(14 + w::Ipv4Repr::kHeaderLen);
    ip.emit(std::span(f).subspan(14), w::ChecksumCaps::software());
  }
  f.insert(f.end(), l4.begin(), l4.end());
  if (f.size() < 60) f.resize(60);  // Ethernet minimum without FCS
  return f;
}

}  // namespace nicemu::testing
