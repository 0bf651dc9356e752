// Helpers for the steering tests: a Steering with N queues, frames built with netstack/wire's
// emitters (tests/support/frame_builder.hpp), ntuple rules written like the ethtool call.
#pragma once

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "frame_builder.hpp"
#include "nicemu/netstack/wire/wire.hpp"
#include "nicemu/nic/hw/steering.hpp"

namespace nicemu::testing {

namespace hw = nic::hw;
namespace w = netstack::wire;

inline hw::Steering make_steering(std::uint32_t rx_queues, std::uint32_t max_rx_queues = 0,
                                  hw::SteeringConfig config = {}) {
  config.rx_queues = rx_queues;
  config.max_rx_queues = max_rx_queues;
  auto r = hw::Steering::create(config);
  REQUIRE(r.has_value());
  return std::move(r).value();
}

inline w::IpAddress ip(const char* text) {
  auto a = w::IpAddress::parse(text);
  REQUIRE(a.has_value());
  return *a;
}

inline std::vector<std::byte> tcp_frame(const char* src, std::uint16_t sport, const char* dst, std::uint16_t dport) {
  FrameSpec s;
  s.src = ip(src);
  s.dst = ip(dst);
  s.v6 = s.src.is_v6();
  s.sport = sport;
  s.dport = dport;
  return build_frame(s);
}

inline std::vector<std::byte> udp_frame(const char* src, std::uint16_t sport, const char* dst, std::uint16_t dport) {
  FrameSpec s;
  s.src = ip(src);
  s.dst = ip(dst);
  s.v6 = s.src.is_v6();
  s.udp = true;
  s.sport = sport;
  s.dport = dport;
  s.payload_len = 16;
  return build_frame(s);
}

// `ethtool -N dev flow-type tcp4|udp4|tcp6|udp6 ... action N loc L`, built field by field.
struct RuleBuilder {
  hw::NtupleRule r;

  explicit RuleBuilder(hw::FlowType t) { r.flow_type = t; }
  RuleBuilder& src_ip(const char* a) {
    r.src_ip = ip(a);
    r.src_ip_mask = full_mask(r.src_ip);
    return *this;
  }
  RuleBuilder& src_ip(const char* a, const char* mask) {
    r.src_ip = ip(a);
    r.src_ip_mask = ip(mask);
    return *this;
  }
  RuleBuilder& dst_ip(const char* a) {
    r.dst_ip = ip(a);
    r.dst_ip_mask = full_mask(r.dst_ip);
    return *this;
  }
  RuleBuilder& dst_ip(const char* a, const char* mask) {
    r.dst_ip = ip(a);
    r.dst_ip_mask = ip(mask);
    return *this;
  }
  RuleBuilder& src_port(std::uint16_t p, std::uint16_t mask = 0xffff) {
    r.src_port = p;
    r.src_port_mask = mask;
    return *this;
  }
  RuleBuilder& dst_port(std::uint16_t p, std::uint16_t mask = 0xffff) {
    r.dst_port = p;
    r.dst_port_mask = mask;
    return *this;
  }
  RuleBuilder& action(std::uint32_t queue) {
    r.action = hw::NtupleAction::kQueue;
    r.queue = queue;
    return *this;
  }
  RuleBuilder& drop() {
    r.action = hw::NtupleAction::kDrop;
    return *this;
  }
  RuleBuilder& context(std::uint32_t ctx, std::uint32_t queue_offset = 0) {
    r.action = hw::NtupleAction::kRssContext;
    r.rss_context = ctx;
    r.queue = queue_offset;
    return *this;
  }
  RuleBuilder& loc(std::uint32_t location) {
    r.location = location;
    return *this;
  }
  operator hw::NtupleRule() const { return r; }  // NOLINT: implicit by design

  static w::IpAddress full_mask(const w::IpAddress& a) {
    if (a.is_v4()) return w::Ipv4Address::broadcast();
    w::Ipv6Address m;
    m.octets.fill(0xff);
    return m;
  }
};

inline std::uint32_t insert_ok(hw::Steering& s, const hw::NtupleRule& rule) {
  auto r = s.insert_ntuple_rule(rule);
  INFO((r.has_value() ? std::string() : r.error().message));
  REQUIRE(r.has_value());
  return r.value();
}

inline int insert_err(hw::Steering& s, const hw::NtupleRule& rule, bool replace = false) {
  auto r = s.insert_ntuple_rule(rule, replace);
  REQUIRE_FALSE(r.has_value());
  INFO(r.error().message);
  CHECK_FALSE(r.error().message.empty());
  return r.error().code;
}

inline void require_ok(const hw::Status& st) {
  INFO(st.message);
  REQUIRE(st.ok());
}

}  // namespace nicemu::testing
