// The stack's counters as text for a run summary: what went in and out per protocol, the TCP
// totals, and every drop by reason (zero counters are left out to keep it short).
#include <sstream>

#include "nicemu/netstack/inet/stack.hpp"

namespace nicemu::netstack::inet {

std::string stack_summary(const NetStack& st) {
  const StackStats& s = st.stats();
  std::ostringstream o;
  auto line = [&o](const char* name, std::initializer_list<std::pair<const char*, std::uint64_t>> kv) {
    o << name << ':';
    bool any = false;
    for (const auto& [k, v] : kv) {
      if (v == 0) continue;
      o << ' ' << k << '=' << v;
      any = true;
    }
    if (!any) o << " -";
    o << '\n';
  };
  line("frames", {{"rx", s.rx_frames}, {"tx", s.tx_frames}, {"tx_csum_sw", s.tx_csum_sw}});
  line("ip", {{"in", s.ip_in}, {"out", s.ip_out}, {"in6", s.ip6_in}, {"out6", s.ip6_out}});
  line("neigh", {{"arp_req_in", s.arp_requests_in}, {"arp_rep_in", s.arp_replies_in},
                 {"arp_req_out", s.arp_requests_out}, {"arp_rep_out", s.arp_replies_out},
                 {"ns_in", s.ndisc_ns_in}, {"na_in", s.ndisc_na_in}, {"ns_out", s.ndisc_ns_out},
                 {"na_out", s.ndisc_na_out}});
  line("icmp", {{"echo_req_in", s.icmp_echo_requests_in + s.icmp6_echo_requests_in},
                {"echo_rep_out", s.icmp_echo_replies_out + s.icmp6_echo_replies_out},
                {"echo_rep_in", s.icmp_echo_replies_in + s.icmp6_echo_replies_in},
                {"unreach_out", s.icmp_unreach_out}, {"unreach_in", s.icmp_unreach_in}});
  line("udp", {{"in", s.udp_in}, {"out", s.udp_out}, {"no_ports", s.udp_no_ports}});
  const TcpTotals t = st.tcp_totals();
  line("tcp", {{"segs_in", s.tcp_segs_in}, {"segs_out", s.tcp_segs_out}, {"rst_out", s.tcp_rst_out},
               {"active_opens", t.active_opens}, {"passive_opens", t.passive_opens},
               {"attempt_fails", t.attempt_fails}, {"estab_resets", t.estab_resets}, {"curr_estab", t.curr_estab}});
  line("tcp_conns", {{"retransmits", t.sum.retransmits}, {"fast_retransmits", t.sum.fast_retransmits},
                     {"timeouts", t.sum.timeouts}, {"dup_acks_in", t.sum.dup_acks_in},
                     {"ooo_segments", t.sum.ooo_segments}, {"sack_blocks_sent", t.sum.sack_blocks_sent},
                     {"sack_blocks_received", t.sum.sack_blocks_received},
                     {"zero_window_probes", t.sum.zero_window_probes}, {"challenge_acks", t.sum.challenge_acks},
                     {"paws_rejected", t.sum.paws_rejected}, {"not_acceptable", t.sum.dropped_not_acceptable},
                     {"rcvbuf_drops", t.sum.dropped_rcvbuf}, {"abort_on_close", t.sum.abort_on_close},
                     {"abort_on_data", t.sum.abort_on_data}});
  o << "drops:";
  if (s.total_drops() == 0) o << " -";
  for (std::size_t i = 0; i < s.drops.size(); ++i) {
    if (s.drops[i] != 0) o << ' ' << to_string(static_cast<DropReason>(i)) << '=' << s.drops[i];
  }
  o << '\n';
  return o.str();
}

}  // namespace nicemu::netstack::inet
