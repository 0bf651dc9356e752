// Packet events as Chrome trace events (see nicemu/app/packet_trace.hpp).
#include "nicemu/app/packet_trace.hpp"

#include <algorithm>
#include <cstdio>
#include <span>

#include "nicemu/base/assert.hpp"
#include "nicemu/sim/random.hpp"

namespace nicemu::app {

namespace {

using sim::PacketEvent;
using sim::PacketStage;

constexpr std::size_t kIdSlots = std::size_t{1} << 16;  // per id space (frames, software ids)
constexpr std::size_t kPendingSlots = std::size_t{1} << 12;
constexpr std::uint32_t kNone = PacketEvent::kNone;

std::uint64_t ns_of(sim::TimePoint t) { return t.ps() > 0 ? static_cast<std::uint64_t>(t.ns()) : 0; }

std::uint32_t be16(std::span<const std::byte> b, std::size_t at) {
  return std::to_integer<std::uint32_t>(b[at]) << 8 | std::to_integer<std::uint32_t>(b[at + 1]);
}
std::uint64_t be32(std::span<const std::byte> b, std::size_t at) {
  return std::uint64_t{be16(b, at)} << 16 | be16(b, at + 2);
}

std::uint64_t mix(std::uint64_t h, std::uint64_t v) { return sim::splitmix64_mix(h ^ (v + 0x9e3779b97f4a7c15ULL)); }

// What the count field means per stage (PacketStage's list); nullptr: not set.
const char* count_label(PacketStage s) {
  switch (s) {
    case PacketStage::kTxDescFetch:
    case PacketStage::kTxSegment: return "descs";
    case PacketStage::kRxFifo: return "fifo_bytes";
    case PacketStage::kRxHeaderSplit: return "payload_bufs";
    case PacketStage::kRxDmaWrite: return "piece";
    case PacketStage::kRecvmsgDevmem:
    case PacketStage::kDevmemDontneed: return "token";
    case PacketStage::kNapiPoll: return "packets";
    case PacketStage::kSkbBuild: return "frags";
    case PacketStage::kGroFlush: return "segs";
    default: return nullptr;
  }
}

const char* note_label(PacketStage s) {
  switch (s) {
    case PacketStage::kRxParse: return "csum";
    case PacketStage::kRxSteer: return "by";
    case PacketStage::kRxHeaderSplit: return "split";
    case PacketStage::kRxDmaWrite: return "memory";
    case PacketStage::kDevmemDontneed: return "after";
    case PacketStage::kIrq: return "cause";
    case PacketStage::kGroReceive: return "verdict";
    case PacketStage::kGroFlush: return "why";
    case PacketStage::kIpRcv: return "proto";
    case PacketStage::kTcpQueue: return "to";
    case PacketStage::kDrop: return "reason";
    default: return "note";
  }
}

bool has_seq(PacketStage s) {
  return s == PacketStage::kTcpTransmit || s == PacketStage::kTcpRcv || s == PacketStage::kTcpQueue;
}

// A stage whose slice is the real span of a track that serves one thing at a time.
bool real_span(PacketStage s) { return s == PacketStage::kLinkTx || s == PacketStage::kNapiPoll; }

bool ends_journey(const PacketEvent& e) {
  switch (e.stage) {
    case PacketStage::kDrop: return true;
    case PacketStage::kGroReceive: return e.ref != 0;  // merged into another skb
    case PacketStage::kTcpQueue: return e.note != nullptr && std::string_view(e.note) == "tcp_queue_rcv";
    default: return false;
  }
}

}  // namespace

std::uint64_t packet_header_key(std::span<const std::byte> b) {
  if (b.size() < 14) return 0;
  std::size_t off = 12;
  std::uint32_t type = be16(b, off);
  while ((type == 0x8100 || type == 0x88a8) && b.size() >= off + 6) {
    off += 4;
    type = be16(b, off);
  }
  const std::size_t l3 = off + 2;
  std::uint64_t h = type;
  if (type == 0x0800) {
    if (b.size() < l3 + 20) return 0;
    const std::size_t ihl = (std::to_integer<std::size_t>(b[l3]) & 0x0f) * 4;
    const auto proto = std::to_integer<std::uint64_t>(b[l3 + 9]);
    h = mix(h, be32(b, l3 + 12));                              // source
    h = mix(h, be32(b, l3 + 16));                              // destination
    h = mix(h, be16(b, l3 + 4));                               // identification
    h = mix(h, proto);
    const std::size_t l4 = l3 + ihl;
    if (proto == 6 && b.size() >= l4 + 12) h = mix(mix(mix(h, be32(b, l4)), be32(b, l4 + 4)), be32(b, l4 + 8));
  } else if (type == 0x86dd) {
    if (b.size() < l3 + 40) return 0;
    for (std::size_t i = 8; i < 40; i += 4) h = mix(h, be32(b, l3 + i));  // addresses
    const auto next = std::to_integer<std::uint64_t>(b[l3 + 6]);
    h = mix(h, next);
    const std::size_t l4 = l3 + 40;
    if (next == 6 && b.size() >= l4 + 12) h = mix(mix(mix(h, be32(b, l4)), be32(b, l4 + 4)), be32(b, l4 + 8));
  } else if (type == 0x0806) {
    if (b.size() < l3 + 28) return 0;
    for (std::size_t i = 0; i < 28; i += 4) h = mix(h, be32(b, l3 + i));
  } else {
    return 0;
  }
  return h | 1;
}

// One reporting place (a host, or all links): what the hooks there call.
class PacketTraceRecorder::Source final : public sim::PacketTracer {
 public:
  Source(PacketTraceRecorder& r, std::uint32_t pid_, bool is_links_) : pid(pid_), is_links(is_links_), r_(r) {}
  void on_event(sim::TimePoint t, const PacketEvent& e) override { r_.record(*this, t, e); }
  std::uint64_t new_packet_id() override { return r_.new_packet_id(); }
  sim::TimePoint now() const override { return r_.clock_.now(); }

  const std::uint32_t pid;
  const bool is_links;
  // The CPU running softirq work now: from an skb build to the end of its NAPI poll.
  std::uint32_t cpu = kNone;

 private:
  PacketTraceRecorder& r_;
};

PacketTraceRecorder::PacketTraceRecorder(TraceWriter& writer, const sim::EventQueue& clock, Options options)
    : w_(writer), clock_(clock), options_(options), ids_(2 * kIdSlots), pending_(kPendingSlots),
      window_end_(sim::TimePoint::zero() + options.tail) {
  NICEMU_ASSERT(w_.is_open(), "PacketTraceRecorder: the trace writer is not open");
  sources_.push_back(std::make_unique<Source>(*this, trace_ids::kPidLinks, true));
  w_.name_process(trace_ids::kPidLinks, "links");
  w_.sort_process(trace_ids::kPidLinks, 2);
}

PacketTraceRecorder::~PacketTraceRecorder() = default;

sim::PacketTracer& PacketTraceRecorder::links() { return *sources_.front(); }

sim::PacketTracer& PacketTraceRecorder::add_host(std::uint32_t index, std::string_view name, std::uint32_t cpus,
                                                 std::uint32_t rx_queues, std::uint32_t tx_queues) {
  namespace ids = trace_ids;
  const std::uint32_t pid = ids::host_pid(index);
  w_.name_process(pid, "host " + std::string(name));
  w_.sort_process(pid, 10 + index);
  for (std::uint32_t c = 0; c < cpus; ++c) {
    w_.name_thread(pid, ids::cpu_tid(c), "CPU " + std::to_string(c) + ": NAPI polls");
    w_.sort_thread(pid, ids::cpu_tid(c), 2 * c);
    w_.name_thread(pid, ids::cpu_packets_tid(c), "CPU " + std::to_string(c) + ": packets in softirq");
    w_.sort_thread(pid, ids::cpu_packets_tid(c), 2 * c + 1);
  }
  w_.name_thread(pid, ids::kTidStack, "stack (process context)");
  w_.sort_thread(pid, ids::kTidStack, 10000);
  w_.name_thread(pid, ids::port_tid(0), "NIC port: RX FIFO, parser, steering");
  w_.sort_thread(pid, ids::port_tid(0), 20000);
  for (std::uint32_t q = 0; q < rx_queues; ++q) {
    w_.name_thread(pid, ids::rx_queue_tid(0, q), "NIC rx queue " + std::to_string(q));
    w_.sort_thread(pid, ids::rx_queue_tid(0, q), 30000 + q);
  }
  for (std::uint32_t q = 0; q < tx_queues; ++q) {
    w_.name_thread(pid, ids::tx_queue_tid(0, q), "NIC tx queue " + std::to_string(q));
    w_.sort_thread(pid, ids::tx_queue_tid(0, q), 40000 + q);
  }
  sources_.push_back(std::make_unique<Source>(*this, pid, false));
  return *sources_.back();
}

void PacketTraceRecorder::add_link(std::uint32_t index, std::string_view name, std::array<std::string, 2> end_names,
                                   std::array<Track, 2> ends) {
  NICEMU_ASSERT(index == link_ends_.size(), "PacketTraceRecorder::add_link: links in order, from 0");
  link_ends_.push_back(ends);
  for (std::uint32_t dir = 0; dir < 2; ++dir) {
    const std::uint32_t tid = trace_ids::link_tid(index, dir);
    w_.name_thread(trace_ids::kPidLinks, tid, std::string(name) + " " + end_names[dir] + " -> " + end_names[1 - dir]);
    w_.sort_thread(trace_ids::kPidLinks, tid, tid);
  }
}

void PacketTraceRecorder::add_switch(std::string_view name, std::uint32_t ports) {
  w_.name_process(trace_ids::kPidSwitch, std::string(name));
  w_.sort_process(trace_ids::kPidSwitch, 3);
  for (std::uint32_t p = 0; p < ports; ++p) {
    w_.name_thread(trace_ids::kPidSwitch, p, "port " + std::to_string(p) + ": frames delivered");
  }
}

std::uint64_t PacketTraceRecorder::new_packet_id() {
  if (issued_ >= options_.max_packets) return 0;
  return sim::kSoftwareIdBase + ++issued_;
}

bool PacketTraceRecorder::traced(std::uint64_t id) {
  if (id >= sim::kSoftwareIdBase || id <= options_.max_packets) return true;  // software ids: issued in budget
  const IdState& s = ids_[id & (kIdSlots - 1)];
  return s.id == id && s.alias != 0;
}

// Frames and software ids each count up from 1, so a slot indexed by the low bits holds every id
// of a window of kIdSlots consecutive ones: far more than are in flight.
PacketTraceRecorder::IdState& PacketTraceRecorder::state(std::uint64_t id) {
  const std::size_t slot = id >= sim::kSoftwareIdBase ? kIdSlots + ((id - sim::kSoftwareIdBase) & (kIdSlots - 1))
                                                      : (id & (kIdSlots - 1));
  IdState& s = ids_[slot];
  if (s.id != id) s = IdState{id, 0, false};
  return s;
}

PacketTraceRecorder::Track PacketTraceRecorder::track_of(const Source& src, const PacketEvent& e,
                                                         PacketStage stage) const {
  namespace ids = trace_ids;
  if (src.is_links) {
    const std::uint32_t link = e.port == kNone ? 0 : e.port / 2;
    const std::uint32_t end = e.port == kNone ? 0 : e.port % 2;  // the sending end
    if (stage == PacketStage::kLinkRx && link < link_ends_.size()) return link_ends_[link][1 - end];
    return {ids::kPidLinks, ids::link_tid(link, end)};
  }
  const auto on_queue = [&](std::uint32_t tid) { return Track{src.pid, e.queue == kNone ? ids::kTidStack : tid}; };
  switch (stage) {
    case PacketStage::kDevQueueXmit:
    case PacketStage::kQdiscRequeue:
    case PacketStage::kNdoStartXmit:
    case PacketStage::kTxDoorbell:
    case PacketStage::kTxDescFetch:
    case PacketStage::kTxSegment: return on_queue(ids::tx_queue_tid(0, e.queue));
    case PacketStage::kLinkRx:
    case PacketStage::kRxFifo:
    case PacketStage::kRxParse:
    case PacketStage::kRxSteer: return {src.pid, ids::port_tid(0)};
    case PacketStage::kRxHeaderSplit:
    case PacketStage::kRxDmaWrite:
    case PacketStage::kRxCompletion:
    case PacketStage::kIrq:
    case PacketStage::kRxDoorbell: return on_queue(ids::rx_queue_tid(0, e.queue));
    case PacketStage::kNapiPoll: return {src.pid, ids::cpu_tid(e.cpu == kNone ? 0 : e.cpu)};
    default: return {src.pid, src.cpu != kNone ? ids::cpu_packets_tid(src.cpu) : ids::kTidStack};
  }
}

void PacketTraceRecorder::record(Source& src, sim::TimePoint t, const PacketEvent& e) {
  if (e.stage == PacketStage::kSkbBuild && e.cpu != kNone) src.cpu = e.cpu;
  if (e.id == 0) {  // queue-level: while traced packets move
    const bool budget_open = issued_ < options_.max_packets;
    if (budget_open || t <= window_end_) write_slice(track_of(src, e, e.stage), t, e, 0);
    if (e.stage == PacketStage::kNapiPoll) src.cpu = kNone;  // the poll is over
    return;
  }
  // A traced skb handed to the driver waits, by its headers, for the frame it becomes.
  std::uint64_t skb_id = 0;
  if (e.stage == PacketStage::kNdoStartXmit && e.id >= sim::kSoftwareIdBase && !e.bytes.empty()) {
    if (const std::uint64_t key = packet_header_key(e.bytes); key != 0) {
      Pending& p = pending_[key & (kPendingSlots - 1)];
      if (p.key == 0) ++pending_count_;
      p = Pending{key, e.id};
    }
  } else if (e.stage == PacketStage::kLinkTx && pending_count_ > 0 && !e.bytes.empty()) {
    const std::uint64_t key = packet_header_key(e.bytes);
    Pending& p = pending_[key & (kPendingSlots - 1)];
    if (key != 0 && p.key == key) {
      skb_id = p.id;
      p = Pending{};
      --pending_count_;
      state(e.id).alias = skb_id;
    }
  }
  if (!traced(e.id)) return;
  if (e.stage == PacketStage::kRecvmsgDevmem || e.stage == PacketStage::kDevmemDontneed) {
    // After the journey's end (tcp_queue_rcv): slices on the stack's track, no flow events.
    write_slice(track_of(src, e, e.stage), t, e, 0);
    return;
  }
  const Track tr = track_of(src, e, e.stage == PacketStage::kDrop && e.at != PacketStage::kCount ? e.at : e.stage);
  write_slice(tr, t, e, skb_id);
  const std::uint64_t ts = ns_of(t);
  if (skb_id != 0) write_flow(tr, ts, skb_id, true);  // the skb's flow ends where its frame's goes on
  IdState& st = state(e.id);
  if (!st.started) {
    st.started = true;
    ++packets_;
    w_.flow_start(tr.pid, tr.tid, "packet", trace_cat::kPacket, ts, e.id);
  } else {
    write_flow(tr, ts, e.id, ends_journey(e));
  }
  if (t + options_.tail > window_end_) window_end_ = t + options_.tail;
}

void PacketTraceRecorder::write_flow(Track tr, std::uint64_t ts_ns, std::uint64_t id, bool end) {
  if (end) {
    w_.flow_end(tr.pid, tr.tid, "packet", trace_cat::kPacket, ts_ns, id);
  } else {
    w_.flow_step(tr.pid, tr.tid, "packet", trace_cat::kPacket, ts_ns, id);
  }
}

void PacketTraceRecorder::write_slice(Track tr, sim::TimePoint t, const PacketEvent& e, std::uint64_t skb_alias) {
  const std::uint64_t ts = ns_of(t);
  std::uint64_t dur = 1;
  if (real_span(e.stage)) dur = std::max<std::uint64_t>(1, ns_of(t + e.dur) - ts);
  std::array<TraceArg, 20> a;
  std::size_t n = 0;
  char hash[16], addr[24];
  if (e.id != 0) a[n++] = TraceArg("packet", e.id);
  if (skb_alias != 0) a[n++] = TraceArg("skb", skb_alias);
  if (e.ref != 0) a[n++] = TraceArg("into", e.ref);
  if (e.queue != kNone) a[n++] = TraceArg("queue", e.queue);
  if (e.len != 0) a[n++] = TraceArg("len", e.len);
  if (e.hdr_len != 0) a[n++] = TraceArg("hdr_len", e.hdr_len);
  if (const char* c = count_label(e.stage)) a[n++] = TraceArg(c, e.count);
  if (e.addr != 0) {
    std::snprintf(addr, sizeof addr, "0x%llx", static_cast<unsigned long long>(e.addr));
    a[n++] = TraceArg("dma_addr", std::string_view(addr));
  }
  if (e.stage == PacketStage::kRecvmsgDevmem) a[n++] = TraceArg("dmabuf_offset", e.offset);
  if (e.stage == PacketStage::kRxSteer) {
    std::snprintf(hash, sizeof hash, "0x%08x", e.hash);
    a[n++] = TraceArg("rss_hash", std::string_view(hash));
    a[n++] = TraceArg("rule", e.rule);
    if (e.context != kNone) a[n++] = TraceArg("rss_context", e.context);
    if (e.index != kNone) a[n++] = TraceArg("indir_index", e.index);
  }
  if (e.napi_id != 0) a[n++] = TraceArg("napi_id", e.napi_id);
  if (e.cpu != kNone) a[n++] = TraceArg("cpu", e.cpu);
  if (has_seq(e.stage)) a[n++] = TraceArg("seq", e.seq);
  if (e.port != kNone) {
    a[n++] = TraceArg("link", e.port / 2);
    a[n++] = TraceArg("dir", e.port % 2 == 0 ? "a->b" : "b->a");
  }
  if (e.dur > sim::Duration::zero() && !real_span(e.stage)) {
    a[n++] = TraceArg("dur_ns", static_cast<double>(e.dur.ps()) / 1000.0);
  }
  if (e.at != PacketStage::kCount) a[n++] = TraceArg("at", to_string(e.at));
  if (e.note != nullptr) a[n++] = TraceArg(note_label(e.stage), e.note);
  w_.complete_args(tr.pid, tr.tid, to_string(e.stage), e.id != 0 ? trace_cat::kPacket : std::string_view("queue"), ts,
                   dur, std::span<const TraceArg>(a.data(), n));
  ++events_;
}

}  // namespace nicemu::app
