// The point-to-point link: per-direction serial transmitters, propagation, faults and carrier
// (see nicemu/nic/hw/link.hpp for the model and the choices it makes).
#include "nicemu/nic/hw/link.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "nicemu/netstack/wire/ethernet.hpp"

namespace nicemu::nic::hw {

namespace {

std::optional<base::Error> einval(std::string msg) { return base::Error{-EINVAL, std::move(msg)}; }

bool is_probability(double p) { return p >= 0.0 && p <= 1.0; }  // false for NaN

}  // namespace

const char* to_string(DropReason r) {
  switch (r) {
    case DropReason::kRunt: return "runt";
    case DropReason::kMtuExceeded: return "mtu-exceeded";
    case DropReason::kTxQueueFull: return "tx-queue-full";
    case DropReason::kCarrierDown: return "carrier-down";
    case DropReason::kFaultDrop: return "fault-drop";
    case DropReason::kCrcError: return "rx-crc-error";
    case DropReason::kLinkDownInFlight: return "link-down-in-flight";
    case DropReason::kNoFrameBuffer: return "no-frame-buffer";
    case DropReason::kNoReceiver: return "no-receiver";
    case DropReason::kCount: break;
  }
  return "?";
}

std::uint64_t LinkDirectionStats::dropped_total() const {
  std::uint64_t n = 0;
  for (std::uint64_t d : dropped) n += d;
  return n;
}

std::optional<base::Error> FaultConfig::validate() const {
  const std::pair<const char*, double> probs[] = {
      {"drop", drop}, {"corrupt", corrupt}, {"duplicate", duplicate}, {"reorder", reorder}};
  for (const auto& [field, p] : probs) {
    if (!is_probability(p)) {
      return einval(std::string("fault config: ") + field + " is a per-frame probability and must be in [0, 1]");
    }
  }
  if (reorder_delay < sim::Duration::zero()) return einval("fault config: reorder_delay must not be negative");
  return std::nullopt;
}

std::optional<base::Error> LinkConfig::validate() const {
  if (line_rate_bps == 0) return einval("link config: line_rate_bps must be positive (e.g. 100000000000 for 100 Gbit/s)");
  if (propagation_delay < sim::Duration::zero()) return einval("link config: propagation_delay must not be negative");
  if (mtu < kMinMtu || mtu > kMaxMtu) {
    return einval("link config: mtu " + std::to_string(mtu) + " is outside " + std::to_string(kMinMtu) + ".." +
                  std::to_string(kMaxMtu));
  }
  if (tx_queue.bytes != 0 && tx_queue.bytes < max_frame_len(kMaxVlanTags)) {
    return einval("link config: tx_queue.bytes " + std::to_string(tx_queue.bytes) +
                  " cannot hold one max-size frame (" + std::to_string(max_frame_len(kMaxVlanTags)) +
                  " bytes at this MTU); use 0 for no limit");
  }
  return std::nullopt;
}

// --- Port -----------------------------------------------------------------------------------

Port::Port(Link& link, int end, std::string name, const sim::RandomStreams& streams, std::string_view direction)
    : link_(&link),
      end_(end),
      name_(std::move(name)),
      tx_limit_(link.cfg_.tx_queue),
      drop_rng_(streams.stream(link.name_ + "/" + std::string(direction) + "/drop")),
      corrupt_rng_(streams.stream(link.name_ + "/" + std::string(direction) + "/corrupt")),
      duplicate_rng_(streams.stream(link.name_ + "/" + std::string(direction) + "/duplicate")),
      reorder_rng_(streams.stream(link.name_ + "/" + std::string(direction) + "/reorder")) {
  reserve_tx_queue();
  reserve_flight(faults_);
}

// A limited queue holds at most `frames`, or bytes / 60 (every frame is padded to 60 bytes), so
// its ring is sized once here and never grows on the datapath. An unlimited one grows on demand.
void Port::reserve_tx_queue() {
  std::size_t most = tx_limit_.frames;
  if (tx_limit_.bytes != 0) {
    const std::size_t by_bytes = static_cast<std::size_t>(tx_limit_.bytes / kMinFrameLen);
    most = most == 0 ? by_bytes : std::min(most, by_bytes);
  }
  tx_queue_.reserve(most);
}

Port& Port::peer() { return link_->port(1 - end_); }
bool Port::carrier() const { return link_->carrier_; }
const LinkDirectionStats& Port::rx_stats() const { return link_->port(1 - end_).tx_stats(); }
std::uint64_t Port::direction_id() const {
  return std::uint64_t{link_->cfg_.trace_id} * 2 + static_cast<std::uint64_t>(end_);
}

std::optional<base::Error> Port::set_tx_queue_limit(const TxQueueLimit& limit) {
  const std::size_t longest = link_->cfg_.max_frame_len(kMaxVlanTags);
  if (limit.bytes != 0 && limit.bytes < longest) {
    return einval(name_ + ": a transmit queue of " + std::to_string(limit.bytes) +
                  " bytes cannot hold one max-size frame (" + std::to_string(longest) +
                  " bytes at this MTU); use 0 for no limit");
  }
  tx_limit_ = limit;
  reserve_tx_queue();
  return std::nullopt;
}

// Frames on the wire start at least one minimum-frame slot apart and stay for at most a
// max-frame slot + propagation + reorder delay, which bounds the in-flight slots; reserving them
// keeps the datapath allocation-free (capped, so a WAN-length delay does not reserve megabytes
// up front: past the cap the slots grow on demand, once).
void Port::reserve_flight(const FaultConfig& f) {
  constexpr std::size_t kMaxReserved = 1 << 16;
  const LinkConfig& c = link_->cfg_;
  const sim::Duration longest =
      wire_time(c.max_frame_len(kMaxVlanTags), c.line_rate_bps) + c.propagation_delay + f.reorder_delay;
  const std::int64_t shortest_ps = wire_time(kMinFrameLen, c.line_rate_bps).ps();
  const auto bound = static_cast<std::uint64_t>(longest.ps() / shortest_ps + 2);
  const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(bound, kMaxReserved));
  flight_.reserve(n);
  flight_free_.reserve(n);
}

std::optional<base::Error> Port::set_faults(const FaultConfig& f) {
  if (auto err = f.validate()) return err;
  faults_ = f;
  reserve_flight(f);
  return std::nullopt;
}

std::optional<base::Error> Port::schedule_faults(sim::TimePoint at, const FaultConfig& f) {
  if (auto err = f.validate()) return err;
  const std::size_t index = scheduled_faults_.size();
  scheduled_faults_.push_back(f);
  reserve_flight(f);
  control_events_.push_back(link_->queue_.schedule_at(
      at, [this, index] { faults_ = scheduled_faults_[index]; }, sim::kPriorityControl));
  return std::nullopt;
}

void Port::add_tap(FrameTap& tap, TapPoint where) { taps_.push_back(Tap{&tap, where}); }

void Port::remove_tap(FrameTap& tap) {
  std::erase_if(taps_, [&](const Tap& t) { return t.tap == &tap; });
}

void Port::tap(TapPoint point, const FrameRef& f) {
  for (const Tap& t : taps_) {
    if ((static_cast<unsigned>(t.where) & static_cast<unsigned>(point)) != 0) {
      t.tap->on_frame(point, link_->queue_.now(), f.id(), f.bytes());
    }
  }
}

void Port::drop(DropReason r, std::uint64_t frame_id) {
  ++stats_.dropped[static_cast<std::size_t>(r)];
  if (link_->tracer_ != nullptr) trace_drop(r, frame_id);
  if (link_->digest_ != nullptr) {
    link_->digest_->record(link_->queue_.now(), trace_kind::kLinkDrop,
                           {direction_id(), frame_id, static_cast<std::uint64_t>(r)});
  }
}

bool Port::tx_queue_has_room(std::size_t len) const {
  const std::size_t padded = len < kMinFrameLen ? kMinFrameLen : len;
  return (tx_limit_.frames == 0 || occ_frames_ + 1 <= tx_limit_.frames) &&
         (tx_limit_.bytes == 0 || occ_bytes_ + padded <= tx_limit_.bytes);
}

Port::TxOutcome Port::transmit(FrameRef frame) {
  NICEMU_ASSERT(frame.valid(), "Port::transmit: empty FrameRef");
  const std::size_t len = frame.len();
  auto refuse = [&](DropReason r) {
    drop(r, frame.id());
    return TxOutcome{false, r};
  };
  if (len < kEthHeaderLen) return refuse(DropReason::kRunt);
  // The one parser of header bytes decides how many tags the frame carries; a frame it cannot
  // read past the Ethernet header counts as untagged.
  // Only the header: the byte worker may still be writing the payload (frame.hpp).
  const auto view = netstack::wire::EthernetView::check(frame.header_bytes());
  const std::size_t tags = view ? view->vlan_count() : 0;
  if (len > link_->cfg_.max_frame_len(tags)) return refuse(DropReason::kMtuExceeded);
  if (!link_->carrier_) return refuse(DropReason::kCarrierDown);
  if (len < kMinFrameLen) {
    std::memset(frame.buffer().data() + len, 0, kMinFrameLen - len);
    frame.set_len(kMinFrameLen);
  }
  const std::size_t padded = frame.len();
  if ((tx_limit_.frames != 0 && occ_frames_ + 1 > tx_limit_.frames) ||
      (tx_limit_.bytes != 0 && occ_bytes_ + padded > tx_limit_.bytes)) {
    return refuse(DropReason::kTxQueueFull);
  }
  ++occ_frames_;
  occ_bytes_ += padded;
  tx_queue_.push_back(std::move(frame));
  if (!tx_busy_) start_next();
  return TxOutcome{true, DropReason::kCount};
}

void Port::start_next() {
  NICEMU_ASSERT(!tx_busy_, "Port::start_next: the transmitter is busy");
  sim::EventQueue& q = link_->queue_;
  const sim::TimePoint now = q.now();
  FrameRef f;
  const bool is_copy = pending_duplicate_.valid();
  if (is_copy) {
    f = std::move(pending_duplicate_);
  } else {
    f = tx_queue_.pop_front();
  }
  const std::size_t len = f.len();
  const sim::Duration slot = wire_time(len, link_->cfg_.line_rate_bps);
  tx_busy_ = true;
  tx_current_counted_ = !is_copy;
  tx_current_len_ = static_cast<std::uint32_t>(len);
  ++stats_.tx_frames;
  stats_.tx_bytes += len;
  tap(TapPoint::kTx, f);
  if (link_->tracer_ != nullptr) trace_tx_start(f, slot);
  if (link_->digest_ != nullptr) {
    link_->digest_->record(now, trace_kind::kLinkTxStart, {direction_id(), f.id(), len});
  }
  tx_end_ = q.schedule_in(slot, [this] { on_tx_end(); });

  // Fault draws: every enabled kind draws from its own stream for every original frame.
  bool lose = false, corrupt = false, duplicate = false, reorder = false;
  if (!is_copy) {
    if (faults_.drop > 0) lose = drop_rng_.bernoulli(faults_.drop);
    if (faults_.corrupt > 0) corrupt = corrupt_rng_.bernoulli(faults_.corrupt);
    if (faults_.duplicate > 0) duplicate = duplicate_rng_.bernoulli(faults_.duplicate);
    if (faults_.reorder > 0) reorder = reorder_rng_.bernoulli(faults_.reorder);
  }
  if (lose) {
    drop(DropReason::kFaultDrop, f.id());
    return;  // the frame used its slot and is gone
  }
  if (duplicate) {
    FrameRef copy = f.clone();
    if (copy) {
      ++stats_.duplicated;
      if (link_->digest_ != nullptr) {
        link_->digest_->record(now, trace_kind::kLinkDuplicate, {direction_id(), f.id(), copy.id()});
      }
      pending_duplicate_ = std::move(copy);
    } else {
      drop(DropReason::kNoFrameBuffer, f.id());
    }
  }
  bool fcs_error = false;
  if (corrupt) {
    const bool pass = faults_.corrupt_mode == CorruptMode::kPassCorrupted;
    const std::uint64_t first = pass ? kEthHeaderLen : 0;  // len >= 60 after padding
    const std::uint64_t offset = corrupt_rng_.uniform_range(first, len - 1);
    const std::uint64_t mask = corrupt_rng_.uniform_range(1, 255);
    std::byte& b = f.bytes()[offset];
    b ^= static_cast<std::byte>(mask);
    fcs_error = !pass;
    ++stats_.corrupted;
    if (link_->digest_ != nullptr) {
      link_->digest_->record(now, trace_kind::kLinkCorrupt, {direction_id(), f.id(), offset, mask});
    }
  }
  sim::Duration extra = sim::Duration::zero();
  if (reorder) {
    extra = faults_.reorder_delay;
    ++stats_.reordered;
    if (link_->digest_ != nullptr) {
      link_->digest_->record(now, trace_kind::kLinkReorder,
                             {direction_id(), f.id(), static_cast<std::uint64_t>(extra.ps())});
    }
  }

  std::uint32_t index;
  if (!flight_free_.empty()) {
    index = flight_free_.back();
    flight_free_.pop_back();
  } else {
    index = static_cast<std::uint32_t>(flight_.size());
    flight_.emplace_back();
  }
  InFlight& e = flight_[index];
  e.frame = std::move(f);
  e.fcs_error = fcs_error;
  e.arrival = q.schedule_in(slot + link_->cfg_.propagation_delay + extra, [this, index] { on_arrival(index); });
  ++flight_count_;
}

void Port::on_tx_end() {
  tx_end_.reset();
  tx_busy_ = false;
  if (tx_current_counted_) {
    --occ_frames_;
    occ_bytes_ -= tx_current_len_;
  }
  if (pending_duplicate_.valid() || !tx_queue_.empty()) start_next();
  if (tx_done_handler_) tx_done_handler_();
}

void Port::on_arrival(std::uint32_t index) {
  InFlight& e = flight_[index];
  FrameRef f = std::move(e.frame);
  const bool fcs_error = e.fcs_error;
  e.arrival.reset();
  flight_free_.push_back(index);
  --flight_count_;
  if (fcs_error) {
    drop(DropReason::kCrcError, f.id());
    return;
  }
  peer().deliver(std::move(f));
}

// Runs on the receiving port; the counters belong to the direction that sent the frame.
void Port::deliver(FrameRef f) {
  Port& sender = peer();
  if (!rx_handler_) {
    sender.drop(DropReason::kNoReceiver, f.id());
    return;
  }
  tap(TapPoint::kRx, f);
  if (link_->tracer_ != nullptr) trace_delivered(f);
  ++sender.stats_.rx_frames;
  sender.stats_.rx_bytes += f.len();
  if (link_->digest_ != nullptr) {
    link_->digest_->record(link_->queue_.now(), trace_kind::kLinkDelivered, {sender.direction_id(), f.id(), f.len()});
  }
  rx_handler_(std::move(f));
}

void Port::trace_tx_start(const FrameRef& f, sim::Duration slot) {
  sim::PacketEvent e;
  e.stage = sim::PacketStage::kLinkTx;
  e.id = f.id();
  e.len = static_cast<std::uint32_t>(f.len());
  e.port = static_cast<std::uint32_t>(direction_id());
  e.dur = slot;
  e.bytes = f.bytes();
  link_->tracer_->on_event(link_->queue_.now(), e);
}

// Runs on the receiving port: the direction is the sender's.
void Port::trace_delivered(const FrameRef& f) {
  sim::PacketEvent e;
  e.stage = sim::PacketStage::kLinkRx;
  e.id = f.id();
  e.len = static_cast<std::uint32_t>(f.len());
  e.port = static_cast<std::uint32_t>(peer().direction_id());
  link_->tracer_->on_event(link_->queue_.now(), e);
}

void Port::trace_drop(DropReason r, std::uint64_t frame_id) {
  sim::PacketEvent e;
  e.stage = sim::PacketStage::kDrop;
  e.at = sim::PacketStage::kLinkTx;  // counted on the sending direction
  e.id = frame_id;
  e.port = static_cast<std::uint32_t>(direction_id());
  e.note = to_string(r);
  link_->tracer_->on_event(link_->queue_.now(), e);
}

void Port::lose_everything() {
  sim::EventQueue& q = link_->queue_;
  q.cancel(tx_end_);
  tx_busy_ = false;
  // Slot order is deterministic (allocation order), so the drop records are too.
  for (std::uint32_t i = 0; i < flight_.size(); ++i) {
    InFlight& e = flight_[i];
    if (!e.frame.valid()) continue;
    q.cancel(e.arrival);
    drop(DropReason::kLinkDownInFlight, e.frame.id());
    e.frame.reset();
    flight_free_.push_back(i);
    --flight_count_;
  }
  if (pending_duplicate_.valid()) {
    drop(DropReason::kCarrierDown, pending_duplicate_.id());
    pending_duplicate_.reset();
  }
  while (!tx_queue_.empty()) {
    FrameRef f = tx_queue_.pop_front();
    drop(DropReason::kCarrierDown, f.id());
  }
  occ_frames_ = 0;
  occ_bytes_ = 0;
  NICEMU_ASSERT(flight_count_ == 0, "Port::lose_everything: in-flight count out of step with the slots");
}

void Port::cancel_events() {
  sim::EventQueue& q = link_->queue_;
  q.cancel(tx_end_);
  for (InFlight& e : flight_) q.cancel(e.arrival);
  for (sim::EventHandle& h : control_events_) q.cancel(h);
}

// --- Link -----------------------------------------------------------------------------------

namespace {
const LinkConfig& checked(const LinkConfig& cfg) {
  if (auto err = cfg.validate()) base::assert_fail(__FILE__, __LINE__, "LinkConfig::validate()", err->message.c_str());
  return cfg;
}
}  // namespace

Link::Link(sim::EventQueue& queue, const sim::RandomStreams& streams, std::string name, const LinkConfig& cfg,
           sim::TraceDigest* digest)
    : queue_(queue),
      name_(std::move(name)),
      cfg_(checked(cfg)),
      digest_(digest),
      ports_{{Port(*this, 0, name_ + "/a", streams, "a->b"), Port(*this, 1, name_ + "/b", streams, "b->a")}} {}

Link::~Link() {
  for (Port& p : ports_) p.cancel_events();
  for (sim::EventHandle& h : control_events_) queue_.cancel(h);
}

void Link::set_carrier(bool up) {
  if (up == carrier_) return;
  carrier_ = up;
  if (digest_ != nullptr) digest_->record(queue_.now(), trace_kind::kLinkCarrier, {cfg_.trace_id, up ? 1u : 0u});
  if (!up) {
    for (Port& p : ports_) p.lose_everything();
  }
  for (Port& p : ports_) {
    if (p.carrier_handler_) p.carrier_handler_(up);
  }
}

void Link::schedule_carrier(sim::TimePoint at, bool up) {
  control_events_.push_back(queue_.schedule_at(at, [this, up] { set_carrier(up); }, sim::kPriorityControl));
}

void Link::add_capture(FrameTap& tap) {
  for (Port& p : ports_) p.add_tap(tap, TapPoint::kRx);
}

std::size_t Link::frames_held() const {
  std::size_t n = 0;
  for (const Port& p : ports_) {
    n += p.tx_queue_.size() + p.flight_count_ + (p.pending_duplicate_.valid() ? 1 : 0);
  }
  return n;
}

}  // namespace nicemu::nic::hw
