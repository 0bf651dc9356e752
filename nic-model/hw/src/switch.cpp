// The store-and-forward switch (see nicemu/nic/hw/switch.hpp).
#include "nicemu/nic/hw/switch.hpp"

#include <cerrno>

namespace nicemu::nic::hw {

using netstack::wire::MacAddress;

namespace {

std::uint64_t mac_u64(const MacAddress& m) {
  std::uint64_t v = 0;
  for (std::uint8_t o : m.octets) v = (v << 8) | o;
  return v;
}

const SwitchConfig& checked(const SwitchConfig& cfg) {
  if (auto err = cfg.validate()) base::assert_fail(__FILE__, __LINE__, "SwitchConfig::validate()", err->message.c_str());
  return cfg;
}

}  // namespace

const char* to_string(SwitchDrop r) {
  switch (r) {
    case SwitchDrop::kFiltered: return "filtered";
    case SwitchDrop::kMalformed: return "malformed";
    case SwitchDrop::kOutputBufferFull: return "output-buffer-full";
    case SwitchDrop::kEgressCarrierDown: return "egress-carrier-down";
    case SwitchDrop::kEgressMtu: return "egress-mtu";
    case SwitchDrop::kNoFrameBuffer: return "no-frame-buffer";
    case SwitchDrop::kCount: break;
  }
  return "?";
}

std::optional<base::Error> SwitchConfig::validate() const {
  if (forwarding_latency < sim::Duration::zero()) {
    return base::Error{-EINVAL, "switch config: forwarding_latency must not be negative"};
  }
  if (output_buffer_bytes == 0) {
    return base::Error{-EINVAL, "switch config: output_buffer_bytes must hold at least one max-size frame of "
                                "every attached link (e.g. 1522 bytes at MTU 1500)"};
  }
  if (mac_table_entries == 0) return base::Error{-EINVAL, "switch config: mac_table_entries must be at least 1"};
  if (mac_aging <= sim::Duration::zero()) return base::Error{-EINVAL, "switch config: mac_aging must be positive"};
  return std::nullopt;
}

Switch::Switch(sim::EventQueue& queue, std::string name, const SwitchConfig& cfg, sim::TraceDigest* digest)
    : queue_(queue), name_(std::move(name)), cfg_(checked(cfg)), digest_(digest) {}

Switch::~Switch() {
  queue_.cancel(forward_event_);
  for (Port* p : ports_) p->set_rx_handler(nullptr);
  // pipeline_ releases its frames as it is destroyed.
}

base::Result<std::size_t, base::Error> Switch::attach(Port& port) {
  NICEMU_ASSERT(!port.has_rx_handler(), "Switch::attach: the port already has an rx handler (attached twice?)");
  if (auto err = port.set_tx_queue_limit(TxQueueLimit{0, cfg_.output_buffer_bytes})) {
    return base::Unexpected{base::Error{err->code, name_ + ": output buffer: " + err->message}};
  }
  // Each input delivers at most one frame per minimum-frame slot, so this bounds the frames
  // waiting out the latency; reserving it keeps forwarding allocation-free.
  const std::int64_t shortest_ps = wire_time(kMinFrameLen, port.link().config().line_rate_bps).ps();
  pipeline_reserved_ += static_cast<std::size_t>(cfg_.forwarding_latency.ps() / shortest_ps + 2);
  pipeline_.reserve(pipeline_reserved_);
  const std::size_t index = ports_.size();
  ports_.push_back(&port);
  stats_.emplace_back();
  port.set_rx_handler([this, index](FrameRef f) { on_receive(index, std::move(f)); });
  return index;
}

void Switch::count_drop(std::size_t port, SwitchDrop r, std::uint64_t frame_id) {
  ++stats_[port].dropped[static_cast<std::size_t>(r)];
  if (digest_ != nullptr) {
    digest_->record(queue_.now(), trace_kind::kSwitchDrop,
                    {cfg_.trace_id, port, frame_id, static_cast<std::uint64_t>(r)});
  }
}

void Switch::learn(const MacAddress& src, std::size_t port) {
  const sim::TimePoint now = queue_.now();
  auto it = table_.find(src);
  if (it != table_.end()) {
    if (it->second.port != port) {
      ++totals_.moved;
      it->second.port = port;
      if (digest_ != nullptr) digest_->record(now, trace_kind::kSwitchLearn, {cfg_.trace_id, port, mac_u64(src)});
    }
    it->second.last_seen = now;
    return;
  }
  if (table_.size() >= cfg_.mac_table_entries) {
    ++totals_.table_full;
    return;
  }
  table_.emplace(src, Entry{port, now});
  ++totals_.learned;
  if (digest_ != nullptr) digest_->record(now, trace_kind::kSwitchLearn, {cfg_.trace_id, port, mac_u64(src)});
}

std::optional<std::size_t> Switch::lookup(const MacAddress& mac) const {
  auto it = table_.find(mac);
  if (it == table_.end() || queue_.now() - it->second.last_seen >= cfg_.mac_aging) return std::nullopt;
  return it->second.port;
}

std::optional<std::size_t> Switch::find(const MacAddress& mac) {
  auto it = table_.find(mac);
  if (it == table_.end()) return std::nullopt;
  if (queue_.now() - it->second.last_seen >= cfg_.mac_aging) {
    table_.erase(it);
    ++totals_.aged_out;
    return std::nullopt;
  }
  return it->second.port;
}

void Switch::on_receive(std::size_t in_port, FrameRef frame) {
  SwitchPortStats& s = stats_[in_port];
  ++s.rx_frames;
  s.rx_bytes += frame.len();
  // Only the two MACs matter here (tags are forwarded untouched); links deliver at least 60
  // bytes, so this guards ports driven by something else.
  if (frame.len() < kEthHeaderLen) {
    count_drop(in_port, SwitchDrop::kMalformed, frame.id());
    return;
  }
  const MacAddress src = MacAddress::read(frame.header_bytes().data() + 6);
  if (src.is_unicast()) learn(src, in_port);
  const bool was_empty = pipeline_.empty();
  pipeline_.push_back(Pending{std::move(frame), static_cast<std::uint32_t>(in_port),
                              queue_.now() + cfg_.forwarding_latency});
  if (was_empty) forward_event_ = queue_.schedule_at(pipeline_.front().ready, [this] { on_forward(); });
}

void Switch::on_forward() {
  forward_event_.reset();
  Pending p = pipeline_.pop_front();
  if (!pipeline_.empty()) forward_event_ = queue_.schedule_at(pipeline_.front().ready, [this] { on_forward(); });

  const std::size_t in = p.in_port;
  const MacAddress dst = MacAddress::read(p.frame.header_bytes().data());
  const std::optional<std::size_t> out = dst.is_unicast() ? find(dst) : std::nullopt;
  if (out) {
    if (*out == in) {
      count_drop(in, SwitchDrop::kFiltered, p.frame.id());
      return;
    }
    ++stats_[in].forwarded;
    if (digest_ != nullptr) {
      digest_->record(queue_.now(), trace_kind::kSwitchForward, {cfg_.trace_id, in, *out, p.frame.id()});
    }
    egress(*out, std::move(p.frame));
    return;
  }
  ++stats_[in].flooded;
  if (digest_ != nullptr) digest_->record(queue_.now(), trace_kind::kSwitchFlood, {cfg_.trace_id, in, p.frame.id()});
  // Every egress but the last gets a copy; the last takes the original (port order, so the
  // copies' ids are deterministic).
  std::size_t last = ports_.size();
  for (std::size_t j = ports_.size(); j-- > 0;) {
    if (j != in) {
      last = j;
      break;
    }
  }
  for (std::size_t j = 0; j < ports_.size(); ++j) {
    if (j == in) continue;
    if (j == last) {
      egress(j, std::move(p.frame));
      break;
    }
    FrameRef copy = p.frame.clone();
    if (!copy) {
      count_drop(j, SwitchDrop::kNoFrameBuffer, p.frame.id());
      continue;
    }
    egress(j, std::move(copy));
  }
}

void Switch::egress(std::size_t out_port, FrameRef frame) {
  const std::uint64_t id = frame.id();
  const std::size_t len = frame.len();
  const Port::TxOutcome r = ports_[out_port]->transmit(std::move(frame));
  if (r) {
    ++stats_[out_port].tx_frames;
    stats_[out_port].tx_bytes += len;
    return;
  }
  switch (r.reason) {
    case DropReason::kTxQueueFull: count_drop(out_port, SwitchDrop::kOutputBufferFull, id); break;
    case DropReason::kCarrierDown: count_drop(out_port, SwitchDrop::kEgressCarrierDown, id); break;
    case DropReason::kMtuExceeded: count_drop(out_port, SwitchDrop::kEgressMtu, id); break;
    default: count_drop(out_port, SwitchDrop::kMalformed, id); break;
  }
}

}  // namespace nicemu::nic::hw
