// Port binding for TCP and UDP (net/ipv4/inet_connection_sock.c inet_csk_get_port and
// inet_csk_bind_conflict; net/ipv4/udp.c udp_lib_get_port), without SO_REUSEPORT:
//   two owners of one port conflict when their addresses overlap (same family, and equal or
//   either is the wildcard) unless both set SO_REUSEADDR and the other is not listening.
// Port 0 asks for an ephemeral port: the search starts at a seed-derived point of
// 32768..60999 and walks up, as the kernel's walk does from its random offset; the first port
// without a conflict wins. Families do not share bindings (AF_INET6 sockets are V6ONLY here).
#include <cerrno>

#include "nicemu/netstack/inet/stack.hpp"
#include "stack_internal.hpp"

namespace nicemu::netstack::inet {

using wire::IpAddress;

namespace {
bool overlaps(const IpAddress& a, const IpAddress& b) {
  return a.version() == b.version() && (a.is_unspecified() || b.is_unspecified() || a == b);
}
constexpr std::uint32_t kRange = detail::kEphemeralHigh - detail::kEphemeralLow + 1;
}  // namespace

int NetStack::port_check(const std::map<std::uint16_t, std::vector<Binding>>& table, const IpAddress& addr,
                         std::uint16_t port, bool reuse, const void* owner) const {
  auto it = table.find(port);
  if (it == table.end()) return 0;
  for (const Binding& b : it->second) {
    if (b.owner == owner || !overlaps(b.addr, addr)) continue;
    if (reuse && b.reuse && !b.listening) continue;
    return -EADDRINUSE;
  }
  return 0;
}

std::uint16_t NetStack::port_pick_free(const std::map<std::uint16_t, std::vector<Binding>>& table,
                                       const IpAddress& addr) {
  for (std::uint32_t i = 0; i < kRange; ++i) {
    const std::uint16_t p = next_port_;
    next_port_ = next_port_ >= detail::kEphemeralHigh ? detail::kEphemeralLow : static_cast<std::uint16_t>(next_port_ + 1);
    auto it = table.find(p);
    bool used = false;
    if (it != table.end()) {
      for (const Binding& b : it->second) used = used || b.addr.version() == addr.version();
    }
    if (!used) return p;
  }
  return 0;
}

base::Result<std::uint16_t, int> NetStack::port_bind(std::map<std::uint16_t, std::vector<Binding>>& table,
                                                     const IpAddress& addr, std::uint16_t port, const void* owner,
                                                     bool reuse) {
  if (port == 0) {
    port = port_pick_free(table, addr);
    if (port == 0) return base::Unexpected{-EADDRINUSE};  // inet_csk_get_port: range exhausted
  } else if (const int err = port_check(table, addr, port, reuse, owner); err != 0) {
    return base::Unexpected{err};
  }
  table[port].push_back(Binding{addr, owner, reuse, false});
  return port;
}

void NetStack::port_unbind(std::map<std::uint16_t, std::vector<Binding>>& table, std::uint16_t port,
                           const void* owner) {
  auto it = table.find(port);
  if (it == table.end()) return;
  std::erase_if(it->second, [owner](const Binding& b) { return b.owner == owner; });
  if (it->second.empty()) table.erase(it);
}

void NetStack::port_set_listening(std::uint16_t port, const void* owner, bool listening) {
  auto it = tcp_ports_.find(port);
  if (it == tcp_ports_.end()) return;
  for (Binding& b : it->second) {
    if (b.owner == owner) b.listening = listening;
  }
}

}  // namespace nicemu::netstack::inet
