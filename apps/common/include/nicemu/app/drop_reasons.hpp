// nicemu/app/drop_reasons.hpp — the names of the drop reasons a run report gives, one spelling
// (lower case, hyphens) for the summary, the JSON report and a scenario's `expect.drops`.
//
// The link's, the switch's and the stack's reasons are their own to_string() names; the NIC's
// device and queue counters are named here, from the counter each one reads.
#pragma once

#include <string_view>
#include <vector>

namespace nicemu::app::drop_reason {

// A NIC's device counters (nic::hw::NicStats, the driver's stats).
inline constexpr std::string_view kRxFifo = "rx-fifo-drops";                   // the RX FIFO was full
inline constexpr std::string_view kRxSteer = "rx-steer-drops";                 // steering said drop
inline constexpr std::string_view kRxQueueStopped = "rx-queue-stopped-drops";  // steered to a stopped queue
inline constexpr std::string_view kTxPort = "tx-port-drops";                   // the port refused a frame
inline constexpr std::string_view kRxSkbAllocFail = "rx-skb-alloc-fail";       // the driver had no skb
inline constexpr std::string_view kRxRestartDiscards = "rx-restart-discards";  // lost to a queue restart
inline constexpr std::string_view kTxRestartDiscards = "tx-restart-discards";
// A queue's counters.
inline constexpr std::string_view kHwDropOverruns = "hw-drop-overruns";  // no RX buffer (qstats hw-drop-overruns)
inline constexpr std::string_view kDmaFault = "dma-fault";               // a DMA address that maps nothing
inline constexpr std::string_view kQdiscFull = "qdisc-full";             // the TX queue's qdisc was full
inline constexpr std::string_view kUnreadableXmit = "unreadable-xmit";   // validate_xmit_unreadable_skb

// Every reason a report can name: the link's, the switch's, the NIC's, the queues' and the
// stack's, each once, in that order.
const std::vector<std::string_view>& all();

}  // namespace nicemu::app::drop_reason
