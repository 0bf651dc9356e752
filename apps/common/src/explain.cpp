// `nicemu run --explain N` (see explain.hpp).
#include "nicemu/app/explain.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstdio>

#include "nicemu/netstack/wire/packet.hpp"

namespace nicemu::app {

namespace {

using sim::PacketStage;
constexpr std::uint32_t kNone = sim::PacketEvent::kNone;
constexpr std::uint64_t kPageMask = ~std::uint64_t{4095};

// The file that implements each stage (a learner's next stop).
const char* file_of(PacketStage s) {
  switch (s) {
    case PacketStage::kLinkTx:
    case PacketStage::kLinkRx: return "nic-model/hw/src/link.cpp";
    case PacketStage::kRxFifo:
    case PacketStage::kRxCompletion: return "nic-model/hw/src/nic.cpp";
    case PacketStage::kRxParse: return "netstack/wire/src/packet.cpp";
    case PacketStage::kRxSteer: return "nic-model/hw/src/steering.cpp";
    case PacketStage::kRxHeaderSplit: return "nic-model/hw/src/header_split.cpp";
    case PacketStage::kRxDmaWrite: return "nic-model/hw/src/rx_queue.cpp, pcie.cpp";
    case PacketStage::kIrq: return "nic-model/hw/src/irq_moderation.cpp";
    case PacketStage::kNapiPoll: return "apps/common/src/host.cpp";
    case PacketStage::kSkbBuild:
    case PacketStage::kRxRefill: return "nic-model/driver/src/nic_driver.cpp";
    case PacketStage::kGroReceive:
    case PacketStage::kGroFlush: return "netstack/core/src/gro.cpp";
    case PacketStage::kIpRcv: return "netstack/inet/src/ipv4.cpp";
    case PacketStage::kTcpRcv: return "netstack/inet/src/tcp_demux.cpp";
    case PacketStage::kTcpQueue: return "netstack/tcp/src/tcp_input.cpp";
    case PacketStage::kRecvmsgDevmem: return "netstack/tcp/src/tcp_devmem.cpp";
    case PacketStage::kDevmemDontneed: return "netstack/socket/src/sockopt.cpp, netstack/tcp/src/tcp_devmem.cpp";
    default: return "";
  }
}

std::string fmt(const char* f, auto... args) {
  char buf[256];
  std::snprintf(buf, sizeof buf, f, args...);
  return buf;
}

std::string hex(std::uint64_t v) { return fmt("0x%" PRIx64, v); }

// The stage in words.
std::string describe(const sim::PacketEvent& e) {
  const char* note = e.note != nullptr ? e.note : "";
  switch (e.stage) {
    case PacketStage::kLinkTx:
      return fmt("link: the first bit leaves the sender's port; %u bytes take %.1f ns to serialize", e.len,
                 double(e.dur.ps()) / 1000.0);
    case PacketStage::kLinkRx: return fmt("link: the last bit reaches the receiver's port, FCS good (%u bytes)", e.len);
    case PacketStage::kRxFifo: return fmt("NIC RX FIFO: holds %u bytes with this frame", e.count);
    case PacketStage::kRxParse:
      return fmt("parser: %u bytes of L2-L4 headers, L4 checksum %s", e.hdr_len, note[0] != 0 ? note : "-");
    case PacketStage::kRxSteer:
      if (e.rule >= 0) return fmt("steering: ntuple rule %d sends it to RX queue %u", e.rule, e.queue);
      if (e.index != kNone) {
        return fmt("steering: RSS context %u, Toeplitz hash 0x%08x, indirection entry %u -> RX queue %u", e.context,
                   e.hash, e.index, e.queue);
      }
      return fmt("steering: RX queue %u (%s)", e.queue, note);
    case PacketStage::kRxHeaderSplit:
      return fmt("header split (%s): %u header bytes to a header buffer, payload to %u payload buffer(s)", note,
                 e.hdr_len, e.count);
    case PacketStage::kRxDmaWrite:
      return fmt("DMA write %u: %u bytes to DMA address %s in %s (the packet's writes had all landed %.1f ns later)",
                 e.count, e.len, hex(e.addr).c_str(), note, double(e.dur.ps()) / 1000.0);
    case PacketStage::kRxCompletion: return fmt("completion entry visible to the driver (RX queue %u)", e.queue);
    case PacketStage::kIrq: return fmt("interrupt of RX queue %u (%s)", e.queue, note);
    case PacketStage::kNapiPoll:
      return fmt("NAPI poll of channel %u on CPU %u (napi %u): %u packets, %.1f ns of CPU", e.queue, e.cpu, e.napi_id,
                 e.count, double(e.dur.ps()) / 1000.0);
    case PacketStage::kSkbBuild:
      return fmt("driver builds the skb: %u linear bytes (the headers), %u frag(s); calls napi_gro_receive", e.hdr_len,
                 e.count);
    case PacketStage::kGroReceive:
      if (e.ref != 0) return fmt("GRO: merged into the held skb of frame %" PRIu64 " (its frags join that skb)", e.ref);
      return fmt("GRO: %s", note);
    case PacketStage::kGroFlush: return fmt("GRO flush (%s): %u segments go up as one skb", note, e.count);
    case PacketStage::kIpRcv: return fmt("ip_rcv (%s)", note);
    case PacketStage::kTcpRcv: return fmt("tcp_v4_rcv: seq %u, %u payload bytes", e.seq, e.len);
    case PacketStage::kTcpQueue: return fmt("%s: %u new bytes on the socket's receive queue", note, e.len);
    case PacketStage::kRecvmsgDevmem:
      return fmt("recvmsg(MSG_SOCK_DEVMEM): SCM_DEVMEM_DMABUF {frag_offset %s, frag_size %u, frag_token %u, "
                 "dmabuf_id %u}; the token holds a page-pool reference",
                 hex(e.offset).c_str(), e.len, e.count, e.context);
    case PacketStage::kDevmemDontneed: return fmt("SO_DEVMEM_DONTNEED of token %u: %s", e.count, note);
    case PacketStage::kRxRefill:
      return fmt("refill: the net_iov at DMA %s is posted to RX queue %u again", hex(e.addr).c_str(), e.queue);
    case PacketStage::kDrop: return fmt("dropped at %s: %s", sim::to_string(e.at), note);
    default: return sim::to_string(e.stage);
  }
}

}  // namespace

sim::PacketTracer& ExplainTracer::host(std::uint32_t index, const std::string& name) {
  if (hosts_.size() <= index) {
    hosts_.resize(index + 1);
    host_names_.resize(index + 1);
  }
  if (!hosts_[index]) hosts_[index] = std::make_unique<Source>(*this, static_cast<int>(index));
  host_names_[index] = name;
  return *hosts_[index];
}

void ExplainTracer::add(Journey& j, int host, sim::TimePoint t, const sim::PacketEvent& e, std::string text) {
  j.lines.push_back(Line{host, t, e.stage, std::move(text)});
}

void ExplainTracer::drop_candidate(std::uint64_t id) {
  auto it = journeys_.find(id);
  if (it != journeys_.end() && !it->second.followed) journeys_.erase(it);
}

ExplainTracer::Journey* ExplainTracer::journey_of_page(std::uint64_t addr, std::uint64_t* id) {
  const std::uint64_t page = addr & kPageMask;
  for (const std::uint64_t fid : order_) {
    Journey& j = journeys_.at(fid);
    if (std::find(j.pages.begin(), j.pages.end(), page) != j.pages.end()) {
      *id = fid;
      return &j;
    }
  }
  return nullptr;
}

void ExplainTracer::on_event(int host, sim::TimePoint t, const sim::PacketEvent& e) {
  const bool choosing = order_.size() < want_;
  if (e.id == 0) {
    // Queue-level: the interrupt and polls a completed packet waits for on its host (the poll
    // that built its skb reports when it ends); a net_iov posted again.
    if (e.stage == PacketStage::kRxRefill) {
      std::uint64_t fid = 0;
      if (Journey* j = journey_of_page(e.addr, &fid); j != nullptr && j->rx_host == host) {
        add(*j, host, t, e, describe(e));
        j->pages.erase(std::find(j->pages.begin(), j->pages.end(), e.addr & kPageMask));  // once per use
      }
      return;
    }
    if (e.stage != PacketStage::kIrq && e.stage != PacketStage::kNapiPoll) return;
    for (const std::uint64_t fid : order_) {
      Journey& j = journeys_.at(fid);
      if (j.rx_host != host || j.wait_queue == kNone || j.wait_queue != e.queue) continue;
      add(j, host, t, e, describe(e));
      if (e.stage == PacketStage::kNapiPoll && j.wait_poll_end) {
        j.wait_queue = kNone;
        j.wait_poll_end = false;
      }
    }
    return;
  }
  if (e.stage == PacketStage::kRecvmsgDevmem || e.stage == PacketStage::kDevmemDontneed) {
    std::uint64_t fid = 0;
    if (Journey* j = journey_of_page(e.addr, &fid); j != nullptr && j->rx_host == host) add(*j, host, t, e, describe(e));
    return;
  }
  // The followed packets merged into this skb hear its later stages too.
  if (auto m = into_.find(e.id); m != into_.end()) {
    for (const std::uint64_t fid : m->second) {
      add(journeys_.at(fid), host, t, e, describe(e) + fmt(" [as part of frame %" PRIu64 "'s skb]", e.id));
    }
  }
  auto it = journeys_.find(e.id);
  if (it == journeys_.end()) {
    // A new frame is a candidate while N are not yet chosen.
    if (!choosing || e.stage != PacketStage::kLinkTx || e.id >= sim::kSoftwareIdBase) return;
    it = journeys_.emplace(e.id, Journey{}).first;
  }
  Journey& j = it->second;
  if (j.tuple.empty() && !e.bytes.empty()) {
    const auto p = netstack::wire::parse_packet(e.bytes, {});
    if (p.l4 == netstack::wire::L4Kind::kTcp) {
      j.tuple = p.src_ip.to_string() + ":" + std::to_string(p.src_port) + " -> " + p.dst_ip.to_string() + ":" +
                std::to_string(p.dst_port) + " (TCP)";
    }
  }
  add(j, host, t, e, describe(e));
  switch (e.stage) {
    case PacketStage::kRxDmaWrite:
      if (e.note != nullptr && std::string(e.note) == "device memory") {
        j.pages.push_back(e.addr & kPageMask);
        if (!j.followed && choosing) {
          j.followed = true;
          order_.push_back(e.id);
        }
      }
      break;
    case PacketStage::kRxCompletion:
      if (!j.followed) {
        drop_candidate(e.id);
      } else {
        j.rx_host = host;
        j.wait_queue = e.queue;
      }
      break;
    case PacketStage::kSkbBuild:
      j.wait_poll_end = true;  // the poll running now reports when it ends
      break;
    case PacketStage::kGroReceive:
      if (e.ref != 0 && j.followed) into_[e.ref].push_back(e.id);
      break;
    case PacketStage::kDrop:
      drop_candidate(e.id);
      break;
    default:
      break;
  }
}

std::string ExplainTracer::report() const {
  std::string out;
  if (order_.empty()) {
    return "explain: no packet's payload was written into device memory (is a queue bound with devmem.bind-rx, "
           "and do the flows reach it?)\n";
  }
  out += "explain: the journey of the first " + std::to_string(order_.size()) +
         " packets whose payload went into device memory (times in simulated seconds)\n";
  std::size_t k = 0;
  for (const std::uint64_t fid : order_) {
    const Journey& j = journeys_.at(fid);
    out += "\npacket " + std::to_string(++k) + ": frame " + std::to_string(fid) + (j.tuple.empty() ? "" : ", " + j.tuple) + "\n";
    for (const Line& l : j.lines) {
      const std::string where = l.host < 0 ? "link" : l.host < static_cast<int>(host_names_.size()) ? host_names_[static_cast<std::size_t>(l.host)] : "?";
      out += fmt("  %.9f  %-4s %-20s %s", double(l.t.ps()) * 1e-12, where.c_str(), sim::to_string(l.stage), l.text.c_str());
      const char* f = file_of(l.stage);
      if (f[0] != 0) out += std::string("  [") + f + "]";
      out += '\n';
    }
  }
  return out;
}

}  // namespace nicemu::app
