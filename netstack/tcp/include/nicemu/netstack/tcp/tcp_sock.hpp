// nicemu/netstack/tcp/tcp_sock.hpp — one TCP connection endpoint.
//
// Models: the RFC 9293 state machine (§3.3.2) and event processing (§3.10) including
//   simultaneous open and close, TIME_WAIT (2MSL, configurable; Linux uses 60 s), the RST rules
//   with RFC 5961 challenge ACKs (as Linux); options: MSS (clamped to the route MTU), window
//   scaling and timestamps with PAWS (RFC 7323), SACK-permitted and SACK blocks from the
//   out-of-order queue (RFC 2018); RTO per RFC 6298 with Karn's rule and exponential backoff;
//   fast retransmit with SACK-based loss recovery (RFC 6675: a per-segment scoreboard, IsLost
//   by DupThresh SACKed segments above, pipe = packets_out - sacked - lost + retransmitted)
//   when SACK is negotiated, NewReno recovery (RFC 6582) otherwise; pluggable congestion control
//   (congestion.hpp); delayed ACKs (every second full segment, a delayed-ACK timer, Linux's
//   quick-ACK mode at start), Nagle (and TCP_NODELAY), sender and receiver silly-window
//   avoidance (RFC 9293 §3.8.6.2), zero-window probing (Linux style: an ACK with seq
//   snd_una - 1; a window too small for sender SWS avoidance gets what fits when the persist
//   timer fires, as tcp_write_wakeup), send and receive buffers of configurable size.
//   Payload moves in skbs: the write queue holds skbs whose frags reference host pages the
//   socket copied the application's bytes into (as Linux's sk_page_frag); transmission sends
//   clones; the receive queue holds the arriving skbs themselves, so unreadable (devmem)
//   payload never has to be read by the stack.
// Not modelled: urgent data, TCP Fast Open, ECN, keepalive, RACK-TLP, D-SACK, RFC 6675's
//   rules 3-4 of NextSeg (speculative and rescue retransmissions: a lost retransmission waits
//   for the RTO), SACK of partial segments (a segment is SACKed only when a block covers it
//   whole), TSO skbs in the write queue (each write-queue skb is at most one MSS; GSO happens
//   at transmit: full-sized new segments that may go together leave as one GSO skb when the
//   route's device has TSO, and are retransmitted one by one), tcp_tso_autosize (the GSO size
//   goal is gso_max_size bounded by half the peer's window), Linux's memory-pressure accounting (the
//   receive window is buffer space minus queued payload bytes). After an RTO the scoreboard
//   is cleared and the flight is resent go-back-N.
// Time: never read; every entry point takes `now`, and next_timer() says when to call
//   on_timer() (DESIGN.md §2).
// References: RFC 9293, 7323, 2018, 5681, 6298, 6582, 5961, 9438; net/ipv4/tcp_input.c,
//   tcp_output.c, tcp_timer.c.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "nicemu/netmem/host_memory.hpp"
#include "nicemu/netstack/core/devmem_tx.hpp"
#include "nicemu/netstack/core/skbuff.hpp"
#include "nicemu/netstack/tcp/congestion.hpp"
#include "nicemu/netstack/tcp/devmem.hpp"
#include "nicemu/netstack/tcp/segment.hpp"
#include "nicemu/sim/packet_trace.hpp"
#include "nicemu/sim/time.hpp"

namespace nicemu::netstack::tcp {

// RFC 9293 §3.3.2 (and Linux's TCP_* names in comments).
enum class TcpState : std::uint8_t {
  kClosed,       // TCP_CLOSE
  kListen,       // TCP_LISTEN
  kSynSent,      // TCP_SYN_SENT
  kSynReceived,  // TCP_SYN_RECV
  kEstablished,  // TCP_ESTABLISHED
  kFinWait1,     // TCP_FIN_WAIT1
  kFinWait2,     // TCP_FIN_WAIT2
  kCloseWait,    // TCP_CLOSE_WAIT
  kClosing,      // TCP_CLOSING
  kLastAck,      // TCP_LAST_ACK
  kTimeWait,     // TCP_TIME_WAIT
};
const char* to_string(TcpState s);

struct TcpConfig {
  std::uint16_t mss = 1460;                 // our MSS: route MTU minus IP and TCP headers
  // The send buffer (sk_sndbuf). It starts at net.ipv4.tcp_wmem[1], is sized at establishment and
  // then grows with the congestion window as the kernel's (tcp_sndbuf_expand: the same values),
  // up to tcp_wmem[2], unless locked: SO_SNDBUF sets it and locks it (SOCK_SNDBUF_LOCK), as does a
  // test that sets sndbuf_locked. nicemu charges the payload bytes queued against it where Linux
  // charges skb truesize (payload plus skb overhead), so the same value holds somewhat more data.
  std::uint32_t sndbuf = 16 * 1024;         // tcp_wmem[1]
  std::uint32_t sndbuf_max = 4u << 20;      // tcp_wmem[2]
  bool sndbuf_locked = false;               // SOCK_SNDBUF_LOCK
  std::uint32_t rcvbuf = 6u << 20;          // SO_RCVBUF bytes (Linux tcp_rmem max)
  bool nodelay = false;                     // TCP_NODELAY
  bool sack = true;                         // net.ipv4.tcp_sack
  bool timestamps = true;                   // net.ipv4.tcp_timestamps
  bool window_scaling = true;               // net.ipv4.tcp_window_scaling
  CongestionAlgo congestion = CongestionAlgo::kCubic;  // Linux default
  std::uint32_t init_cwnd = 10;             // RFC 6928, Linux TCP_INIT_CWND
  sim::Duration rto_initial = sim::Duration::from_s(1);    // RFC 6298 §2.1, TCP_TIMEOUT_INIT
  sim::Duration rto_min = sim::Duration::from_ms(200);     // TCP_RTO_MIN
  sim::Duration rto_max = sim::Duration::from_s(120);      // TCP_RTO_MAX
  sim::Duration delack = sim::Duration::from_ms(40);       // TCP_DELACK_MIN
  sim::Duration time_wait = sim::Duration::from_s(60);     // TCP_TIMEWAIT_LEN (2MSL)
  std::uint32_t syn_retries = 6;            // net.ipv4.tcp_syn_retries
  std::uint32_t retries2 = 15;              // net.ipv4.tcp_retries2
  std::uint32_t quickacks = 16;             // segments ACKed at once after connection start
  std::uint32_t dupthresh = 3;              // RFC 5681 DupThresh
  // TCP small queues (net.ipv4.tcp_limit_output_bytes): bytes of one socket allowed in qdiscs
  // and device rings. Linux started at 128 KiB (3.6) and later raised it as TSO made skbs 64 KiB;
  // nicemu's TCP sends MSS-sized skbs, so the original 128 KiB keeps a qdisc of 1000 packets from
  // overflowing with a handful of flows.
  std::uint32_t limit_output_bytes = 128 * 1024;
};

struct TcpSockStats {
  std::uint64_t segs_in = 0;
  std::uint64_t segs_out = 0;
  std::uint64_t bytes_sent = 0;        // payload bytes sent, retransmissions included
  std::uint64_t bytes_acked = 0;
  std::uint64_t bytes_received = 0;    // in-order payload bytes accepted
  std::uint64_t retransmits = 0;       // segments retransmitted, any reason
  std::uint64_t fast_retransmits = 0;
  std::uint64_t timeouts = 0;          // RTO expirations
  std::uint64_t dup_acks_in = 0;
  std::uint64_t ooo_segments = 0;      // arrived out of order and queued
  std::uint64_t sack_blocks_sent = 0;
  std::uint64_t sack_blocks_received = 0;
  std::uint64_t zero_window_probes = 0;
  std::uint64_t challenge_acks = 0;
  std::uint64_t paws_rejected = 0;
  std::uint64_t rst_in = 0;
  std::uint64_t rst_out = 0;
  std::uint64_t dropped_not_acceptable = 0;  // outside the receive window
  std::uint64_t dropped_rcvbuf = 0;          // no receive buffer space
  std::uint64_t delayed_acks = 0;
  std::uint64_t gso_skbs_out = 0;            // GSO skbs sent (each counted in segs_out per segment)
  std::uint64_t abort_on_close = 0;  // close() with unread data: RST (kernel: LINUX_MIB_TCPABORTONCLOSE)
  std::uint64_t abort_on_data = 0;   // new data after close() in FIN-WAIT-1/2: RST (TCPABORTONDATA)
};

class TcpSock;

// What a TCP socket needs from its host: buffers and a way out.
class TcpSockEnv {
 public:
  virtual core::SkBuff* tcp_alloc_skb() = 0;
  virtual netmem::HostMemory& tcp_memory() = 0;
  // Sends a segment at simulated time `now`; takes ownership of seg.skb (nullptr for a
  // segment without payload).
  virtual void tcp_output(TcpSock& sk, TcpSegment& seg, sim::TimePoint now) = 0;
  // State changes the owner cares about (readiness, accept queue, reaping CLOSED sockets).
  virtual void tcp_state_change(TcpSock&, TcpState /*old_state*/) {}
  // The GSO limits of the device the connection's route leaves by (kernel: sk_setup_caps() reads
  // them into sk_route_caps, sk_gso_max_size and sk_gso_max_segs): {0, 0} when it has no TSO for
  // the connection's family, and then every segment is sent as one skb.
  struct GsoCaps {
    std::uint32_t max_size = 0;
    std::uint32_t max_segs = 0;
  };
  virtual GsoCaps tcp_gso_caps(const TcpSock&) { return {}; }

 protected:
  ~TcpSockEnv() = default;
};

class TcpSock final : private core::UbufOwner {
 public:
  TcpSock(TcpSockEnv& env, const TcpConfig& config);
  ~TcpSock();
  TcpSock(const TcpSock&) = delete;
  TcpSock& operator=(const TcpSock&) = delete;

  // ---- opening ---------------------------------------------------------------------------------
  void set_ports(std::uint16_t local, std::uint16_t remote) { sport_ = local; dport_ = remote; }
  // Active open: sends SYN with initial sequence number `iss`. 0 or a negative errno.
  int connect(std::uint32_t iss, sim::TimePoint now);
  // Passive open.
  int listen();
  // A listener received `syn`: this (fresh, CLOSED) socket becomes the child in SYN-RECEIVED
  // and answers SYN-ACK. The caller (the demux) owns the listener's accept queue.
  void accept_syn(const TcpSegment& syn, std::uint32_t iss, sim::TimePoint now);

  // ---- data ------------------------------------------------------------------------------------
  // Copies up to data.size() bytes into the send buffer; returns the count, or -EAGAIN (buffer
  // full), -EPIPE (shut down for writing / closed), -ENOTCONN (not yet connected).
  // `uarg` (MSG_ZEROCOPY): every skb the bytes go into holds a reference on it, so its owner
  // (this socket) hears when the last one is freed; the bytes are still copied (nicemu shares
  // no application memory with the stack), so the completion says COPIED.
  // `copy_offload` (the simulator's speed, no socket option): with the byte worker running
  // (base/byte_worker.hpp), the copy from `data` into pages is the worker's job and the pages
  // are tagged with it. Only for a caller whose buffer changes through later byte worker jobs
  // alone, since the copy may run after send() returns; results are the same byte for byte.
  int send(std::span<const std::byte> data, sim::TimePoint now, core::UbufInfo* uarg = nullptr,
           bool copy_offload = false);
  // Devmem TX (kernel: tcp_sendmsg_locked with a binding, zerocopy_fill_skb_from_devmem): each
  // iov is a byte range of the binding's dma-buf; frags reference its net_iovs (one binding
  // reference each), clipped at page boundaries, at most MAX_SKB_FRAGS per skb. Returns the
  // bytes queued, -EFAULT (an offset at or past the dma-buf's end, with nothing queued), or
  // send()'s errors.
  struct DevmemIov {
    std::uint64_t offset = 0;  // iov_base: an offset into the dma-buf
    std::size_t len = 0;
  };
  int send_devmem(std::span<const DevmemIov> iov, const core::DevmemTxBinding& binding, core::UbufInfo* uarg,
                  sim::TimePoint now);
  // MSG_ZEROCOPY's notification for one sendmsg call of `size` bytes (kernel:
  // msg_zerocopy_realloc): the next id (sk_zckey) and one reference, the call's. When the write
  // queue's tail still carries the previous call's notification and that ends at the current
  // id, it is extended instead (one more id, so the new bytes may join the tail skb); else a new
  // one. zerocopy_done() drops the call's reference at the end of the call; when nothing was sent
  // the id is taken back (kernel: net_zcopy_put_abort), and a notification left with no id
  // is never queued.
  core::UbufInfo* zerocopy_alloc(bool zerocopy, std::size_t size);
  void zerocopy_done(core::UbufInfo* uarg, bool sent_any);
  // The error queue of zero-copy completions (kernel: sk_error_queue), oldest first.
  bool error_queue_empty() const { return errq_.empty(); }
  std::optional<ZerocopyNotification> pop_error_queue();
  // Copies in-order received bytes out, even after a reset (they come before the error); 0 at
  // end of stream or in CLOSED; -EAGAIN when nothing is queued yet (SYN-SENT included); -ENOTCONN
  // on a listener; else the pending error once (e.g. -ECONNRESET). A socket never connected is
  // the socket layer's ENOTCONN.
  int recv(std::span<std::byte> out, sim::TimePoint now) { return recvmsg(out, nullptr, now); }
  // recv with the devmem rules (kernel: tcp_recvmsg_locked): one call never mixes readable and
  // unreadable skbs; unreadable payload without `devmem` (MSG_SOCK_DEVMEM) gives -EFAULT when
  // nothing was read yet and stays queued; with it, each skb's linear bytes are copied to `out`
  // and reported as SCM_DEVMEM_LINEAR, each frag becomes an SCM_DEVMEM_DMABUF message with a
  // token that holds one page-pool reference (tcp_recvmsg_dmabuf). The bytes counted include
  // the frags' (so `out` bounds how much is received, as the iov length does in Linux). A
  // control buffer too small stops the call: -EFAULT if nothing was received, else the count
  // (tcp_recvmsg_dmabuf fails with put_cmsg_notrunc's -ETOOSMALL, which tcp_recvmsg_locked turns
  // into -EFAULT, as it does -ENODEV for a net_iov that is not devmem).
  // `last_unreadable` carries the readability of the last skb read across the calls of one
  // recvmsg over several iovs (-1: none yet).
  // `mode`: kPeek (MSG_PEEK) reads without consuming, from `peek_skip` bytes past the next unread
  // one (what earlier iovs of the same call peeked), devmem frags included (each peek gets tokens
  // of its own, as in the kernel); kTruncate (MSG_TRUNC) consumes up to out.size() bytes without
  // writing `out` or the control buffer, readable or not (the kernel skips the copy block);
  // kPeekTruncate (both flags) neither copies nor consumes: the count only.
  enum class RecvMode : std::uint8_t { kConsume, kPeek, kTruncate, kPeekTruncate };
  int recvmsg(std::span<std::byte> out, DevmemCmsgSink* devmem, sim::TimePoint now, int* last_unreadable = nullptr,
              RecvMode mode = RecvMode::kConsume, std::uint32_t peek_skip = 0);
  // SO_DEVMEM_DONTNEED (kernel: sock_devmem_dontneed after its argument checks): frees each
  // token of each range, skipping ids not held, at most kMaxDontneedFrags in all; returns how
  // many were freed.
  int devmem_dontneed(std::span<const DmabufToken> tokens);
  std::size_t devmem_tokens() const { return user_frags_.size(); }
  // Half close (SHUT_WR): queue a FIN after the data.
  int shutdown_write(sim::TimePoint now);
  // close(): FIN after the data, or RST when received data was never read (RFC 2525 §2.17,
  // as Linux). The socket stays until it reaches CLOSED.
  void close(sim::TimePoint now);
  // Sends RST and goes to CLOSED at once.
  void abort(sim::TimePoint now);

  // ---- socket options (netstack/socket's setsockopt) -----------------------------------------
  // TCP_NODELAY. Turning it on sends what Nagle was holding, as Linux's __tcp_sock_set_nodelay
  // does (tcp_push_pending_frames).
  void set_nodelay(bool on, sim::TimePoint now);
  // SO_RCVBUF / SO_SNDBUF in bytes, already doubled and clamped by the socket layer. A smaller
  // receive buffer never pulls back the window already advertised (update_rcv_wnd keeps the
  // right edge); the window scale chosen at the handshake stays, as in Linux.
  void set_rcvbuf(std::uint32_t bytes) { cfg_.rcvbuf = bytes; }
  void set_sndbuf(std::uint32_t bytes) {  // SO_SNDBUF: also stops autotuning (SOCK_SNDBUF_LOCK)
    cfg_.sndbuf = bytes;
    cfg_.sndbuf_locked = true;
  }

  // ---- events ----------------------------------------------------------------------------------
  // A segment for this connection arrived; takes ownership of seg.skb.
  void input(TcpSegment& seg, sim::TimePoint now);
  std::optional<sim::TimePoint> next_timer() const;
  void on_timer(sim::TimePoint now);

  // ---- readiness -------------------------------------------------------------------------------
  bool readable() const;   // data, EOF or an error to report
  bool writable() const;   // send buffer space in a state that can send
  bool hung_up() const;    // both directions finished, or reset
  int so_error() const { return so_error_; }
  int take_error() { const int e = so_error_; so_error_ = 0; return e; }

  // ---- introspection ---------------------------------------------------------------------------
  TcpState state() const { return state_; }
  const TcpConfig& config() const { return cfg_; }
  TcpConfig& config() { return cfg_; }
  const TcpSockStats& stats() const { return stats_; }
  std::uint16_t local_port() const { return sport_; }
  std::uint16_t remote_port() const { return dport_; }
  std::uint32_t snd_una() const { return snd_una_; }
  std::uint32_t snd_nxt() const { return snd_nxt_; }
  std::uint32_t snd_wnd() const { return snd_wnd_; }
  std::uint32_t rcv_nxt() const { return rcv_nxt_; }
  std::uint32_t rcv_wnd() const { return rcv_wnd_; }
  std::uint32_t iss() const { return iss_; }
  std::uint32_t irs() const { return irs_; }
  std::uint16_t mss_now() const { return mss_now_; }
  std::uint8_t snd_wscale() const { return snd_wscale_; }
  std::uint8_t rcv_wscale() const { return rcv_wscale_; }
  bool sack_ok() const { return sack_ok_; }
  bool ts_ok() const { return ts_ok_; }
  std::uint32_t snd_cwnd() const { return snd_cwnd_; }          // segments
  std::uint32_t snd_ssthresh() const { return snd_ssthresh_; }  // segments
  std::uint32_t packets_out() const { return packets_out_; }
  std::uint32_t sacked_out() const { return sacked_out_; }
  std::uint32_t lost_out() const { return lost_out_; }
  std::uint32_t retrans_out() const { return retrans_out_; }
  // Segments in the network (kernel: tcp_packets_in_flight; RFC 6675 "pipe"):
  // packets_out - sacked_out - lost_out + retrans_out.
  std::uint32_t in_flight() const {
    const std::uint32_t left = sacked_out_ + lost_out_;
    return (packets_out_ > left ? packets_out_ - left : 0) + retrans_out_;
  }
  bool in_recovery() const { return in_recovery_; }
  // For tests: recomputes the SACK scoreboard from scratch (the marks on the sent segments, their
  // counts, RFC 6675's IsLost by counting SACKed segments above each one, the promise of every
  // hint and cached SACK range) and checks that every sent segment lying whole inside one of
  // `sacked` is marked SACKed. Returns "" when all agree, else what differs (kernel:
  // tcp_verify_left_out, tcp_verify_retransmit_hint). Walks the whole write queue.
  std::string verify_scoreboard(std::span<const SackBlock> sacked = {}) const;
  std::uint32_t high_seq() const { return high_seq_; }         // RFC 6582 "recover"
  sim::Duration srtt() const { return srtt_; }
  sim::Duration rttvar() const { return rttvar_; }
  sim::Duration rto() const { return rto_; }
  std::uint32_t backoff() const { return backoff_; }
  std::uint32_t bytes_unsent() const;     // in the write queue, not yet sent
  std::uint32_t bytes_in_flight() const { return snd_nxt_ - snd_una_; }
  std::uint32_t bytes_readable() const { return rcv_queue_bytes_; }
  // Payload bytes in the write queue, sent and unsent (kernel: sk_wmem_queued, without overhead).
  std::uint32_t write_queue_bytes() const { return write_queue_bytes_; }
  std::uint32_t ooo_bytes() const { return ooo_bytes_; }
  std::size_t ooo_segments() const;
  bool fin_received() const { return fin_received_; }
  CongestionOps& cc() { return *cc_; }
  // For congestion control modules (kernel: tp->snd_cwnd, snd_cwnd_cnt, snd_ssthresh).
  void set_snd_cwnd(std::uint32_t v) { snd_cwnd_ = v < 1 ? 1 : v; }
  std::uint32_t& snd_cwnd_cnt() { return snd_cwnd_cnt_; }
  void set_snd_ssthresh(std::uint32_t v) { snd_ssthresh_ = v < 2 ? 2 : v; }

  // The demux's bookkeeping (listener children waiting in the accept queue).
  TcpSock* parent = nullptr;
  std::uint32_t backlog = 0;
  // Data queued on the socket is reported here as kTcpQueue (sim/packet_trace.hpp); nullptr: none.
  sim::PacketTracer* packet_tracer = nullptr;

 private:
  struct Queue {  // intrusive skb list (kernel: sk_buff_head)
    core::SkBuff* head = nullptr;
    core::SkBuff* tail = nullptr;
    std::size_t len = 0;
    void push_back(core::SkBuff* skb);
    void insert_before(core::SkBuff* pos, core::SkBuff* skb);
    void unlink(core::SkBuff* skb);
    bool empty() const { return head == nullptr; }
  };

  void set_state(TcpState s);
  void init_from_syn_options(const TcpSegment& syn, sim::TimePoint now);
  core::SkBuff* new_write_skb();
  bool page_frag_refill();
  void fill_syn_options(TcpSegment& seg, bool syn_ack) const;
  std::uint32_t tsval(sim::TimePoint now) const;
  std::uint16_t advertised_window(bool syn) const;
  void update_rcv_wnd();

  // output
  void send_syn(sim::TimePoint now, bool syn_ack);
  void send_ack(sim::TimePoint now);
  void send_rst(std::uint32_t seq, std::uint32_t ack, bool with_ack, sim::TimePoint now);
  void send_challenge_ack(sim::TimePoint now);
  void xmit_skb(core::SkBuff* skb, bool retransmit, sim::TimePoint now);
  void write_xmit(sim::TimePoint now);
  void sndbuf_expand();
  void new_space();
  void transmit_new(core::SkBuff* skb, sim::TimePoint now, bool deferred = false);
  // Consecutive full-sized new segments gathered by write_xmit to leave as one GSO skb.
  struct GsoBatch {
    core::SkBuff* first = nullptr;
    std::uint32_t count = 0;
    std::uint32_t bytes = 0;
    int nr_frags = 0;                 // the frags of the GSO skb (touching frags joined)
    netmem::NetmemRef last_netmem;    // where the last frag ends
    std::uint32_t last_end = 0;
    int new_frags(const core::SkBuff& skb) const;
    bool fits(const core::SkBuff& skb, std::uint32_t max_segs) const;
    void add(core::SkBuff* skb);
  };
  std::uint32_t gso_size_goal_segs() const;
  void flush_gso(GsoBatch& b, sim::TimePoint now);
  void xmit_gso(core::SkBuff* first, std::uint32_t count, sim::TimePoint now);
  bool nagle_allows(const core::SkBuff* skb) const;
  void queue_fin(sim::TimePoint now);
  core::SkBuff* send_head() const { return send_head_; }
  void retransmit_head(sim::TimePoint now);
  bool split_skb(core::SkBuff* skb, std::uint32_t len);
  void fill_header(TcpSegment& seg, std::uint32_t seq, std::uint8_t flags, sim::TimePoint now);

  // input
  void input_listen(TcpSegment& seg, sim::TimePoint now);
  void input_syn_sent(TcpSegment& seg, sim::TimePoint now);
  bool paws_reject(const TcpSegment& seg, sim::TimePoint now) const;
  bool acceptable(const TcpSegment& seg) const;
  bool process_ack(const TcpSegment& seg, sim::TimePoint now);  // false: drop the segment
  void clean_rtx_queue(std::uint32_t ack, sim::TimePoint now, bool& rtt_sampled, std::uint32_t& acked_segs);
  void rtt_sample(sim::Duration rtt);
  void on_dupack(sim::TimePoint now);
  void sack_update(const TcpSegment& seg);
  std::uint32_t sent_end_seq() const;
  core::SkBuff* sack_skip(std::uint32_t seq) const;
  void sack_tag_range(const SackBlock& b, std::uint32_t from, std::uint32_t to);
  void sack_tag_one(core::SkBuff* skb);
  void sack_enter_recovery(sim::TimePoint now);
  void sack_mark_lost();
  void sack_retransmit(sim::TimePoint now);
  void clear_scoreboard();
  void reset_sack_hints();
  void on_new_ack_in_recovery(std::uint32_t ack, std::uint32_t acked_segs, sim::TimePoint now);
  void process_data(TcpSegment& seg, sim::TimePoint now);
  void queue_in_order(core::SkBuff* skb, sim::TimePoint now);
  void ooo_insert(core::SkBuff* skb);
  void trace_queue(const core::SkBuff& skb, std::uint32_t payload, sim::TimePoint now, const char* where) const;
  void ooo_drain(sim::TimePoint now);
  void process_fin(sim::TimePoint now);
  void schedule_ack(bool immediate, sim::TimePoint now);
  void build_sack_blocks(TcpSegment& seg) const;
  void enter_time_wait(sim::TimePoint now);
  void reset_connection(int err);
  void purge_queues();
  // devmem and MSG_ZEROCOPY
  int recvmsg_dmabuf(const core::SkBuff& skb, std::uint32_t offset, std::span<std::byte> out, std::uint32_t remaining,
                     DevmemCmsgSink& sink, std::size_t* iov_pos);
  void release_user_frags();  // kernel: tcp_v4_destroy_sock's token release
  bool zerocopy_complete(core::UbufInfo& uarg) override;
  core::SkBuff* writable_tail(core::UbufInfo* uarg, bool devmem) const;

  // timers
  void arm_rto(sim::TimePoint now);
  void on_rto(sim::TimePoint now);
  void on_persist(sim::TimePoint now);
  void syn_acked_rtt(const TcpSegment& seg, sim::TimePoint now);

  TcpSockEnv& env_;
  TcpConfig cfg_;
  TcpState state_ = TcpState::kClosed;
  std::uint16_t sport_ = 0, dport_ = 0;

  // Send sequence space (RFC 9293 §3.3.1).
  std::uint32_t iss_ = 0, snd_una_ = 0, snd_nxt_ = 0, snd_wnd_ = 0, snd_wl1_ = 0, snd_wl2_ = 0;
  std::uint32_t max_window_ = 0;  // largest window the peer offered (sender SWS)
  std::uint32_t write_seq_ = 0;   // next sequence number to queue (kernel: tp->write_seq)
  std::uint32_t snd_max_ = 0;     // highest sequence number sent (retransmission detection)
  std::uint32_t snd_sml_ = 0;     // end of the last sub-MSS segment sent (Minshall's Nagle)
  // Receive sequence space.
  std::uint32_t irs_ = 0, rcv_nxt_ = 0, rcv_wnd_ = 0, rcv_wup_ = 0;
  std::uint32_t copied_seq_ = 0;  // next byte the application reads

  // Negotiated options.
  std::uint16_t mss_now_ = 536;   // RFC 9293 default send MSS
  std::uint16_t mss_clamp_ = 536; // the MSS both ends allow, options not deducted (rx_opt.mss_clamp)
  std::uint8_t snd_wscale_ = 0, rcv_wscale_ = 0;
  bool wscale_ok_ = false, sack_ok_ = false, ts_ok_ = false;
  std::uint32_t ts_recent_ = 0;
  sim::TimePoint ts_recent_stamp_;
  std::uint32_t ts_offset_ = 0;
  sim::TimePoint syn_sent_at_;
  std::uint32_t last_ooo_seq_ = 0;  // start of the latest out-of-order arrival (first SACK block)

  // Congestion and loss recovery (segments).
  std::unique_ptr<CongestionOps> cc_;
  std::uint32_t snd_cwnd_ = 10, snd_cwnd_cnt_ = 0, snd_ssthresh_ = 0x7fffffff;
  std::uint32_t packets_out_ = 0;
  std::uint32_t sacked_out_ = 0, lost_out_ = 0, retrans_out_ = 0;  // SACK scoreboard counts
  // Scoreboard hints, so that an ACK costs what it changes (kernel: tp->highest_sack,
  // lost_skb_hint with lost_cnt_hint, retransmit_skb_hint, recv_sack_cache; their promises are
  // in tcp_input.cpp's SACK section). Each points into the sent part of write_queue_ or is null.
  core::SkBuff* highest_sack_ = nullptr;         // the highest SACKed skb
  core::SkBuff* lost_skb_hint_ = nullptr;        // sack_mark_lost resumes above it
  std::uint32_t lost_cnt_hint_ = 0;              // SACKed skbs at or below lost_skb_hint_
  core::SkBuff* retransmit_skb_hint_ = nullptr;  // sack_retransmit resumes above it
  std::array<SackBlock, kMaxSackBlocks> recv_sack_cache_{};  // ranges the last SACK tagged
  int recv_sack_cache_len_ = 0;
  std::uint32_t dupacks_ = 0;
  bool in_recovery_ = false;
  bool in_loss_ = false;  // after an RTO, until snd_una passes high_seq
  std::uint32_t high_seq_ = 0;

  // RTT (RFC 6298).
  sim::Duration srtt_{}, rttvar_{}, rto_{};
  bool have_rtt_ = false;
  std::uint32_t backoff_ = 0;
  std::uint32_t syn_tries_ = 0;

  // Queues.
  Queue write_queue_;           // sent (unacked) then unsent skbs
  core::SkBuff* send_head_ = nullptr;  // first unsent skb in write_queue_
  std::uint32_t write_queue_bytes_ = 0;
  // The socket's page frag (kernel: sk->sk_frag): the page new send data is copied into, one
  // reference held by the socket, and where in it the next byte goes.
  netmem::Page* frag_page_ = nullptr;
  std::uint32_t frag_off_ = 0;
  Queue rcv_queue_;
  std::uint32_t rcv_queue_bytes_ = 0;
  Queue ooo_queue_;
  std::uint32_t ooo_bytes_ = 0;
  bool fin_queued_ = false;      // our FIN is in the write queue
  bool fin_received_ = false;
  bool shut_wr_ = false;
  bool user_closed_ = false;

  // ACK scheduling.
  std::uint32_t segs_since_ack_ = 0;
  std::uint32_t quickacks_left_ = 0;
  bool ack_pending_ = false;

  // Timers (absent: not armed).
  std::optional<sim::TimePoint> rto_at_, delack_at_, persist_at_, timewait_at_;
  // TCP small queues: what this socket has below it (shared with its skbs in flight).
  core::SkbTxOwner* tsq_ = new core::SkbTxOwner;
  TcpSockEnv::GsoCaps gso_;  // the route's device GSO limits, read at establishment
  // devmem RX: the tokens the application holds (kernel: sk->sk_user_frags).
  DevmemTokens user_frags_;
  // MSG_ZEROCOPY: the next notification id (sk_zckey), the notifications still in flight (so a
  // socket going away can disown them), and the error queue.
  std::uint32_t zckey_ = 0;
  core::UbufInfo* zc_inflight_ = nullptr;
  std::vector<std::unique_ptr<core::UbufInfo>> zc_free_;  // completed ones, for reuse
  std::deque<ZerocopyNotification> errq_;

  int so_error_ = 0;
  TcpSockStats stats_;
};

}  // namespace nicemu::netstack::tcp
