// The devmem receive path of a TCP socket on crafted skbs (net/ipv4/tcp.c tcp_recvmsg_locked and
// tcp_recvmsg_dmabuf, net/core/sock.c sock_devmem_dontneed): which control messages a read
// produces for headers-only, linear-plus-frags and page-spanning skbs, the tokens and the
// page-pool references they hold, the never-mix rule, EFAULT without MSG_SOCK_DEVMEM, a control
// buffer too small, SO_DEVMEM_DONTNEED's limits and return value, and release at close.
#include <catch2/catch.hpp>

#include <cerrno>
#include <limits>
#include <memory>
#include <vector>

#include "skb_fixtures.hpp"
#include "tcp_harness.hpp"

using namespace nicemu;
using namespace nicemu::netstack::tcp;
using namespace nicemu::sim::literals;
using namespace nicemu::testing;
using Kind = DevmemCmsgSink::Kind;

namespace {

constexpr std::uint32_t kBindingId = 1;  // the id SkbHost's net_iov provider reports

// Records the control messages a read produces; refuses (ETOOSMALL) after `room` of them.
struct RecordingSink final : DevmemCmsgSink {
  struct Msg {
    Kind kind;
    DmabufCmsg c;
  };
  std::vector<Msg> got;
  std::size_t room = std::numeric_limits<std::size_t>::max();
  int put(Kind kind, const DmabufCmsg& c) override {
    if (got.size() >= room) return -kETOOSMALL;
    got.push_back({kind, c});
    return 0;
  }
};

// An established connection whose peer's segments carry skbs crafted on an SkbHost whose
// payload pool hands out net_iovs (device memory).
struct DevmemConn {
  SkbHost host;
  TcpTestEnv env;
  std::unique_ptr<TcpSock> sk;
  std::uint32_t next_seq = kPeerIss + 1;

  DevmemConn() {
    TcpConfig c = plain_config();
    c.rcvbuf = 1 << 20;
    sk = std::make_unique<TcpSock>(env, c);
    open_active(env, *sk);
  }
  ~DevmemConn() {
    sk.reset();
    env.clear();
  }
  DevmemConn(const DevmemConn&) = delete;
  DevmemConn& operator=(const DevmemConn&) = delete;

  netstack::core::SkBuff* skb(std::uint32_t linear_bytes = 0, std::vector<std::byte>* expect = nullptr) {
    netstack::core::SkBuff* s = host.skbs.alloc();
    REQUIRE(s != nullptr);
    std::byte* p = s->put(linear_bytes);
    for (std::uint32_t i = 0; i < linear_bytes; ++i) {
      p[i] = pattern_byte(3, i);
      if (expect != nullptr) expect->push_back(p[i]);
    }
    return s;
  }
  // Delivers `s` as the next in-order segment.
  void deliver(netstack::core::SkBuff* s) {
    TcpSegment seg;
    seg.sport = 80;
    seg.dport = 1000;
    seg.seq = next_seq;
    seg.ack = kIss + 1;
    seg.flags = kAck;
    seg.window = 65535;
    seg.payload_len = s->len();
    seg.skb = s;
    next_seq += s->len();
    sk->input(seg, at(1_ms));
    env.clear();
  }
  // Delivers one header-split skb whose payload is net_iov frags of these lengths (each at
  // offset 0 of its own net_iov); the net_iovs, in frag order.
  std::vector<netmem::NetmemRef> deliver_niov_frags(std::initializer_list<std::uint32_t> lens) {
    netstack::core::SkBuff* s = skb();
    std::vector<netmem::NetmemRef> frags;
    for (const std::uint32_t len : lens) frags.push_back(host.add_niov_frag(*s, 0, len));
    deliver(s);
    return frags;
  }
  static std::uint64_t virt(netmem::NetmemRef n) { return netmem::net_iov_virtual_addr(n.net_iov()); }
};

}  // namespace

TEST_CASE("devmem recvmsg: a header-split skb gives one SCM_DEVMEM_DMABUF per frag with the frag's "
          "dma-buf offset, a token from 1 and the binding id, nothing is copied",
          "[netstack][tcp][devmem][unit]") {
  DevmemConn c;
  netstack::core::SkBuff* s = c.skb();
  const netmem::NetmemRef a = c.host.add_niov_frag(*s, 0, 4096);
  const netmem::NetmemRef b = c.host.add_niov_frag(*s, 128, 1000);
  c.deliver(s);
  REQUIRE(c.sk->bytes_readable() == 5096);
  std::vector<std::byte> out(64 * 1024, std::byte{0xee});
  RecordingSink sink;
  CHECK(c.sk->recvmsg(out, &sink, at(2_ms)) == 5096);
  REQUIRE(sink.got.size() == 2);
  CHECK(sink.got[0].kind == Kind::kDmabuf);
  CHECK(sink.got[0].c.frag_offset == DevmemConn::virt(a));
  CHECK(sink.got[0].c.frag_size == 4096);
  CHECK(sink.got[0].c.frag_token == 1);
  CHECK(sink.got[0].c.dmabuf_id == kBindingId);
  CHECK(sink.got[0].c.flags == 0);
  CHECK(sink.got[1].c.frag_offset == DevmemConn::virt(b) + 128);
  CHECK(sink.got[1].c.frag_size == 1000);
  CHECK(sink.got[1].c.frag_token == 2);
  CHECK(out[0] == std::byte{0xee});  // no byte went to the iov
  CHECK(c.sk->bytes_readable() == 0);
  // The skb is gone; each token holds the net_iov with one page-pool reference of its own.
  CHECK(c.sk->devmem_tokens() == 2);
  CHECK(a.desc().pp_ref_count == 1);
  CHECK(b.desc().pp_ref_count == 1);
  CHECK(c.host.niovs_out() == 2);
}

TEST_CASE("devmem recvmsg: linear payload is copied to the iov and reported first with "
          "SCM_DEVMEM_LINEAR (frag_size only)",
          "[netstack][tcp][devmem][unit]") {
  DevmemConn c;
  std::vector<std::byte> lin;
  netstack::core::SkBuff* s = c.skb(100, &lin);
  const netmem::NetmemRef a = c.host.add_niov_frag(*s, 256, 2000);
  c.deliver(s);
  std::vector<std::byte> out(4096);
  RecordingSink sink;
  CHECK(c.sk->recvmsg(out, &sink, at(2_ms)) == 2100);
  REQUIRE(sink.got.size() == 2);
  CHECK(sink.got[0].kind == Kind::kLinear);
  CHECK(sink.got[0].c.frag_size == 100);
  CHECK(sink.got[0].c.frag_offset == 0);
  CHECK(sink.got[0].c.frag_token == 0);
  CHECK(sink.got[0].c.dmabuf_id == 0);
  CHECK(std::equal(lin.begin(), lin.end(), out.begin()));
  CHECK(sink.got[1].kind == Kind::kDmabuf);
  CHECK(sink.got[1].c.frag_offset == DevmemConn::virt(a) + 256);
  CHECK(sink.got[1].c.frag_size == 2000);
  CHECK(sink.got[1].c.frag_token == 1);
}

TEST_CASE("devmem recvmsg: frags spanning pages, read in pieces: each call starts where the last "
          "stopped, inside a frag if need be",
          "[netstack][tcp][devmem][unit]") {
  DevmemConn c;
  netstack::core::SkBuff* s = c.skb();
  const netmem::NetmemRef n0 = c.host.add_niov_frag(*s, 3000, 1096);
  const netmem::NetmemRef n1 = c.host.add_niov_frag(*s, 0, 4096);
  const netmem::NetmemRef n2 = c.host.add_niov_frag(*s, 0, 500);
  c.deliver(s);
  std::vector<std::byte> out(2000);  // the iov length bounds what one call receives
  RecordingSink sink;
  CHECK(c.sk->recvmsg(out, &sink, at(2_ms)) == 2000);
  REQUIRE(sink.got.size() == 2);
  CHECK(sink.got[0].c.frag_offset == DevmemConn::virt(n0) + 3000);
  CHECK(sink.got[0].c.frag_size == 1096);
  CHECK(sink.got[1].c.frag_offset == DevmemConn::virt(n1));
  CHECK(sink.got[1].c.frag_size == 904);
  sink.got.clear();
  std::vector<std::byte> rest(8192);
  CHECK(c.sk->recvmsg(rest, &sink, at(3_ms)) == 3692);
  REQUIRE(sink.got.size() == 2);
  CHECK(sink.got[0].c.frag_offset == DevmemConn::virt(n1) + 904);
  CHECK(sink.got[0].c.frag_size == 3192);
  CHECK(sink.got[0].c.frag_token == 3);
  CHECK(sink.got[1].c.frag_offset == DevmemConn::virt(n2));
  CHECK(sink.got[1].c.frag_size == 500);
  // Two tokens on n1: two references of its own.
  CHECK(n1.desc().pp_ref_count == 2);
  CHECK(c.sk->devmem_tokens() == 4);
}

TEST_CASE("devmem recvmsg: one call never mixes readable and unreadable skbs",
          "[netstack][tcp][devmem][unit]") {
  DevmemConn c;
  std::vector<std::byte> lin;
  c.deliver(c.skb(300, &lin));  // readable (the NIC did not split)
  c.deliver_niov_frags({1000});
  c.deliver(c.skb(200));
  std::vector<std::byte> out(8192);
  RecordingSink sink;
  CHECK(c.sk->recvmsg(out, &sink, at(2_ms)) == 300);  // the readable skb only, copied plainly
  CHECK(sink.got.empty());
  CHECK(std::equal(lin.begin(), lin.end(), out.begin()));
  CHECK(c.sk->recvmsg(out, &sink, at(2_ms)) == 1000);  // the devmem skb only
  CHECK(sink.got.size() == 1);
  CHECK(c.sk->recvmsg(out, &sink, at(2_ms)) == 200);
  CHECK(sink.got.size() == 1);
}

TEST_CASE("devmem recvmsg: without MSG_SOCK_DEVMEM unreadable data gives EFAULT and stays queued, "
          "readable bytes before it are returned first",
          "[netstack][tcp][devmem][unit]") {
  DevmemConn c;
  c.deliver(c.skb(50));
  c.deliver_niov_frags({1500});
  std::vector<std::byte> out(8192);
  CHECK(c.sk->recv(out, at(2_ms)) == 50);
  CHECK(c.sk->recv(out, at(2_ms)) == -EFAULT);
  CHECK(c.sk->recv(out, at(2_ms)) == -EFAULT);
  CHECK(c.sk->bytes_readable() == 1500);
  CHECK(c.sk->recvmsg(out, nullptr, at(2_ms), nullptr, TcpSock::RecvMode::kPeek) == -EFAULT);
  RecordingSink sink;
  CHECK(c.sk->recvmsg(out, &sink, at(3_ms)) == 1500);
  CHECK(sink.got.size() == 1);
}

TEST_CASE("devmem recvmsg: MSG_PEEK with MSG_SOCK_DEVMEM reports the frags with tokens of its own and leaves "
          "the data queued",
          "[netstack][tcp][devmem][unit]") {
  // kernel: tcp_recvmsg_locked has no MSG_PEEK case for dma-buf skbs: tcp_recvmsg_dmabuf hands
  // out a token (and a page-pool reference) per frag each time, consumed or not.
  DevmemConn c;
  const auto frags = c.deliver_niov_frags({4096, 2000});
  std::vector<std::byte> out(64 * 1024);
  RecordingSink first;
  CHECK(c.sk->recvmsg(out, &first, at(2_ms), nullptr, TcpSock::RecvMode::kPeek) == 6096);
  REQUIRE(first.got.size() == 2);
  CHECK(first.got[0].c.frag_offset == DevmemConn::virt(frags[0]));
  CHECK(first.got[1].c.frag_size == 2000);
  CHECK(c.sk->bytes_readable() == 6096);
  // Peeking past the first 4096 bytes starts inside the skb, at the second frag.
  RecordingSink skipped;
  CHECK(c.sk->recvmsg(out, &skipped, at(2_ms), nullptr, TcpSock::RecvMode::kPeek, 4096) == 2000);
  REQUIRE(skipped.got.size() == 1);
  CHECK(skipped.got[0].c.frag_offset == DevmemConn::virt(frags[1]));
  // The read that consumes gets new tokens for the same frags.
  RecordingSink read;
  CHECK(c.sk->recvmsg(out, &read, at(3_ms)) == 6096);
  REQUIRE(read.got.size() == 2);
  CHECK(read.got[0].c.frag_token == 4);
  CHECK(c.sk->devmem_tokens() == 5);
  CHECK(frags[0].desc().pp_ref_count == 2);  // a token from the first peek and one from the read
  CHECK(frags[1].desc().pp_ref_count == 3);  // and one from the peek past 4096
  CHECK(c.sk->bytes_readable() == 0);
}

TEST_CASE("devmem recvmsg: MSG_TRUNC drops devmem data without EFAULT and without tokens, MSG_PEEK and "
          "MSG_TRUNC together only count it",
          "[netstack][tcp][devmem][unit]") {
  DevmemConn c;
  c.deliver_niov_frags({4096, 4096});
  REQUIRE(c.host.niovs_out() == 2);
  std::vector<std::byte> out(5000, std::byte{0xee});
  CHECK(c.sk->recvmsg(out, nullptr, at(2_ms), nullptr, TcpSock::RecvMode::kPeekTruncate) == 5000);
  CHECK(c.sk->bytes_readable() == 8192);
  CHECK(c.sk->recvmsg(out, nullptr, at(2_ms), nullptr, TcpSock::RecvMode::kTruncate) == 5000);
  CHECK(c.sk->bytes_readable() == 3192);
  CHECK(out[0] == std::byte{0xee});  // nothing written
  CHECK(c.sk->devmem_tokens() == 0);
  CHECK(c.sk->recvmsg(out, nullptr, at(2_ms), nullptr, TcpSock::RecvMode::kTruncate) == 3192);
  // The skb went with its last byte: its net_iovs are back in the pool.
  CHECK(c.host.niovs_out() == 0);
}

TEST_CASE("devmem recvmsg: a control buffer too small gives EFAULT when nothing was received, "
          "else the bytes of the messages that fit, nothing is lost",
          "[netstack][tcp][devmem][unit]") {
  DevmemConn c;
  c.deliver_niov_frags({4096, 4096});
  std::vector<std::byte> out(16384);
  RecordingSink none;
  none.room = 0;
  // put_cmsg_notrunc's -ETOOSMALL stays in the kernel: tcp_recvmsg_locked returns -EFAULT.
  CHECK(c.sk->recvmsg(out, &none, at(2_ms)) == -EFAULT);
  CHECK(c.sk->bytes_readable() == 8192);
  CHECK(c.sk->devmem_tokens() == 0);
  RecordingSink one;
  one.room = 1;
  CHECK(c.sk->recvmsg(out, &one, at(2_ms)) == 4096);
  CHECK(c.sk->devmem_tokens() == 1);
  CHECK(c.sk->bytes_readable() == 4096);
  RecordingSink rest;
  CHECK(c.sk->recvmsg(out, &rest, at(2_ms)) == 4096);
  REQUIRE(rest.got.size() == 1);
  CHECK(rest.got[0].c.frag_token == 2);
}

TEST_CASE("devmem recvmsg: a net_iov that is not devmem (io_uring) gives EFAULT (tcp_recvmsg_dmabuf's ENODEV)",
          "[netstack][tcp][devmem][unit]") {
  DevmemConn c;
  netmem::NetIovArea zcrx(2, 0, netmem::NetIovType::kIoUring, 1);
  netstack::core::SkBuff* s = c.skb();
  netmem::get_netmem(netmem::NetmemRef::from_net_iov(zcrx.niov(0)));
  s->add_rx_frag(netmem::NetmemRef::from_net_iov(zcrx.niov(0)), 0, 1000, 4096);
  c.deliver(s);
  std::vector<std::byte> out(4096);
  RecordingSink sink;
  CHECK(c.sk->recvmsg(out, &sink, at(2_ms)) == -EFAULT);
  CHECK(c.sk->bytes_readable() == 1000);
  c.sk.reset();  // frees the skb before the area goes
}

TEST_CASE("SO_DEVMEM_DONTNEED: frees the listed tokens, skips ids not held, returns the count, the "
          "lowest free token is handed out next",
          "[netstack][tcp][devmem][unit]") {
  DevmemConn c;
  const auto frags = c.deliver_niov_frags({4096, 4096, 4096});
  const netmem::NetmemRef a = frags[0];
  std::vector<std::byte> out(16384);
  RecordingSink sink;
  REQUIRE(c.sk->recvmsg(out, &sink, at(2_ms)) == 3 * 4096);
  REQUIRE(c.sk->devmem_tokens() == 3);
  const std::int64_t out_before = c.host.niovs_out();
  const DmabufToken one[] = {{1, 1}};
  CHECK(c.sk->devmem_dontneed(one) == 1);
  CHECK(a.desc().pp_ref_count == 1);  // back in the pool (the last put leaves 1, ready for reuse)
  CHECK(c.host.niovs_out() == out_before - 1);
  CHECK(c.sk->devmem_dontneed(one) == 0);  // token 1 is no longer held
  const DmabufToken mixed[] = {{1, 1}, {3, 5}, {0, 1}};
  CHECK(c.sk->devmem_dontneed(mixed) == 1);  // only token 3
  CHECK(c.sk->devmem_tokens() == 1);
  // The next frag gets the lowest free token: 1.
  c.deliver_niov_frags({100});
  sink.got.clear();
  REQUIRE(c.sk->recvmsg(out, &sink, at(3_ms)) == 100);
  CHECK(sink.got.at(0).c.frag_token == 1);
  const DmabufToken all[] = {{1, 2}};
  CHECK(c.sk->devmem_dontneed(all) == 2);
  CHECK(c.sk->devmem_tokens() == 0);
}

TEST_CASE("SO_DEVMEM_DONTNEED: stops after 1024 frags in one call",
          "[netstack][tcp][devmem][unit]") {
  DevmemConn c;
  c.deliver_niov_frags({100, 100});
  std::vector<std::byte> out(4096);
  RecordingSink sink;
  REQUIRE(c.sk->recvmsg(out, &sink, at(2_ms)) == 200);
  // 1024 ids that are not held use up the call: token 1 after them is not freed.
  const DmabufToken far_then_one[] = {{5000, 1024}, {1, 1}};
  CHECK(c.sk->devmem_dontneed(far_then_one) == 0);
  CHECK(c.sk->devmem_tokens() == 2);
  const DmabufToken within[] = {{5000, 1022}, {1, 2}};
  CHECK(c.sk->devmem_dontneed(within) == 2);
}

TEST_CASE("devmem tokens: released when the socket is destroyed, and by close() of a socket already "
          "CLOSED, not while the application still holds it",
          "[netstack][tcp][devmem][unit]") {
  DevmemConn c;
  c.deliver_niov_frags({4096, 4096});
  std::vector<std::byte> out(16384);
  RecordingSink sink;
  REQUIRE(c.sk->recvmsg(out, &sink, at(2_ms)) == 8192);
  REQUIRE(c.host.niovs_out() == 2);
  c.sk->abort(at(3_ms));  // CLOSED, but the application holds the socket and its tokens
  CHECK(c.sk->devmem_tokens() == 2);
  CHECK(c.host.niovs_out() == 2);
  c.sk->close(at(4_ms));
  CHECK(c.sk->devmem_tokens() == 0);
  CHECK(c.host.niovs_out() == 0);

  DevmemConn d;
  d.deliver_niov_frags({4096});
  REQUIRE(d.sk->recvmsg(out, &sink, at(2_ms)) == 4096);
  REQUIRE(d.host.niovs_out() == 1);
  d.sk.reset();
  CHECK(d.host.niovs_out() == 0);
}

TEST_CASE("MSG_ZEROCOPY ids: a call extends the write queue tail's notification when it ends at the next id, "
          "an aborted call gives its id back, and the notification comes once every skb holding it is gone",
          "[netstack][tcp][devmem][unit]") {
  TcpTestEnv env;
  TcpConfig c = plain_config();
  TcpSock sk(env, c);
  open_active(env, sk);
  const auto data = pattern(1000);
  netstack::core::UbufInfo* u = sk.zerocopy_alloc(false, data.size());
  REQUIRE(u != nullptr);
  CHECK(u->id == 0);
  REQUIRE(sk.send(data, at(1_ms), u) == 1000);
  sk.zerocopy_done(u, true);
  // The tail skb (sent, not yet acknowledged) carries it: the next call extends it.
  netstack::core::UbufInfo* v = sk.zerocopy_alloc(false, data.size());
  CHECK(v == u);
  CHECK(u->len == 2);
  REQUIRE(sk.send(data, at(1_ms), v) == 1000);
  sk.zerocopy_done(v, true);
  CHECK(sk.error_queue_empty());  // the skbs still hold it
  // The peer acknowledges everything (Nagle holds the second small segment until the first is
  // acknowledged): one notification for ids 0..1, COPIED (plain memory).
  for (std::uint32_t acked : {1000u, 2000u}) {
    env.clear();  // the "device" sent and freed the clones
    TcpSegment ack = ack_of(env, kIss + 1 + acked);
    sk.input(ack, at(2_ms));
  }
  env.clear();
  const auto n = sk.pop_error_queue();
  REQUIRE(n.has_value());
  CHECK(n->lo == 0);
  CHECK(n->hi == 1);
  CHECK(n->copied);
  CHECK(sk.error_queue_empty());
  // A call that sends nothing takes its id back: no notification, the next call reuses id 2.
  netstack::core::UbufInfo* w = sk.zerocopy_alloc(false, 10);
  CHECK(w->id == 2);
  sk.zerocopy_done(w, false);
  CHECK(sk.error_queue_empty());
  netstack::core::UbufInfo* x = sk.zerocopy_alloc(false, 10);
  CHECK(x->id == 2);
  sk.zerocopy_done(x, false);
}
