// ncdevmem — the kernel selftest on two emulated hosts joined by one link: host a (10.0.0.1)
// and host b (10.0.0.2), each with one NIC "eth0" of the chosen profile. -f names the host
// ncdevmem runs on; the other host runs devmem.py's peer (a pattern sender for -l, a socat-like
// sink for the TX client). Prints ncdevmem's stderr lines; exits 0 on pass, 1 on fail.
//
//   ncdevmem -f b                                          mode A (the binding self-test)
//   ncdevmem -l -f b -s 10.0.0.2 -p 5201 -v 7              mode B, peer sends 1 KiB from a
//   ncdevmem -f a -s 10.0.0.2 -p 5201 -z 3                 mode C, peer on b prints what came
//
// Flags beyond ncdevmem's (-l -s -c -p -v -q -t -f -z): --nic NAME|PATH (bnxt-thor), --channels N
// (4), --bytes N (the peer sender's head -c, 1024), --input TEXT (mode C's stdin, with \n
// escapes; "hello\nworld"), --limit-ms N (simulated time limit, 10000), --seed N, --verbose.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "nicemu/app/host.hpp"
#include "nicemu/app/nic_profile_loader.hpp"
#include "nicemu/ncdevmem/ncdevmem.hpp"
#include "nicemu/nic/hw/link.hpp"
#include "nicemu/sim/random.hpp"

namespace {

using namespace nicemu;
namespace nc = nicemu::ncdevmem;

struct Cli {
  nc::Options opt;
  std::string host;  // -f
  std::string nic = "bnxt-thor";
  std::uint32_t channels = 4;
  std::uint64_t bytes = 1024;
  std::string input = "hello\nworld";
  std::int64_t limit_ms = 10000;
  std::uint64_t seed = 1;
};

int usage(const char* why) {
  std::fprintf(stderr, "ncdevmem: %s\n", why);
  std::fprintf(stderr,
               "usage: ncdevmem -f a|b [-l] [-s IP] [-c IP] [-p PORT] [-v N] [-q N] [-t N] [-z N]\n"
               "                [--nic NAME|PATH] [--channels N] [--bytes N] [--input TEXT] [--limit-ms N]\n"
               "                [--seed N] [--verbose]\n");
  return 1;
}

bool parse_u64(const char* s, std::uint64_t* out) {
  if (s == nullptr || *s == '\0') return false;
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(s, &end, 10);
  if (errno != 0 || *end != '\0' || *s == '-') return false;
  *out = v;
  return true;
}

std::string unescape(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && s[i + 1] == 'n') {
      out.push_back('\n');
      ++i;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// nullptr on success, else the message.
const char* parse(int argc, char** argv, Cli& c) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    std::uint64_t n = 0;
    const auto need_u64 = [&](std::uint64_t max) {
      if (!parse_u64(v, &n) || n > max) return false;
      ++i;
      return true;
    };
    const auto need_ip = [&](std::optional<netstack::wire::IpAddress>* out) {
      if (v == nullptr) return false;
      *out = netstack::wire::IpAddress::parse(v);
      ++i;
      return out->has_value();
    };
    if (a == "-l") {
      c.opt.listen = true;
    } else if (a == "-s") {
      if (!need_ip(&c.opt.server_ip)) return "-s needs an IPv4 or IPv6 address";
    } else if (a == "-c") {
      if (!need_ip(&c.opt.client_ip)) return "-c needs an IPv4 or IPv6 address";
    } else if (a == "-p") {
      if (!need_u64(65535) || n == 0) return "-p needs a port 1..65535";
      c.opt.port = static_cast<std::uint16_t>(n);
    } else if (a == "-v") {
      if (!need_u64(UINT64_MAX)) return "-v needs a number";
      c.opt.validation = n;
    } else if (a == "-q") {
      if (!need_u64(1u << 20)) return "-q needs a number";
      c.opt.num_queues = static_cast<int>(n);
    } else if (a == "-t") {
      if (!need_u64(1u << 20)) return "-t needs a number";
      c.opt.start_queue = static_cast<int>(n);
    } else if (a == "-z") {
      if (!need_u64(1u << 30)) return "-z needs a number";
      c.opt.max_chunk = static_cast<std::size_t>(n);
    } else if (a == "-f") {
      if (v == nullptr) return "-f needs a host: a or b";
      c.host = v;
      ++i;
    } else if (a == "--nic") {
      if (v == nullptr) return "--nic needs a profile name or path";
      c.nic = v;
      ++i;
    } else if (a == "--channels") {
      if (!need_u64(1024) || n == 0) return "--channels needs a count 1..1024";
      c.channels = static_cast<std::uint32_t>(n);
    } else if (a == "--bytes") {
      if (!need_u64(UINT64_MAX)) return "--bytes needs a number";
      c.bytes = n;
    } else if (a == "--input") {
      if (v == nullptr) return "--input needs text";
      c.input = unescape(v);
      ++i;
    } else if (a == "--limit-ms") {
      if (!need_u64(1'000'000'000) || n == 0) return "--limit-ms needs a positive number";
      c.limit_ms = static_cast<std::int64_t>(n);
    } else if (a == "--seed") {
      if (!need_u64(UINT64_MAX)) return "--seed needs a number";
      c.seed = n;
    } else if (a == "--verbose") {
      c.opt.verbose = true;
    } else {
      std::fprintf(stderr, "unknown option: %s\n", argv[i]);
    }
  }
  if (c.host.empty()) return "Missing -f argument";
  if (c.host != "a" && c.host != "b") return "-f names a host: a or b";
  return nullptr;
}

// What DriverTestbed builds (tests/support/driver_testbed.hpp): two hosts on one link, each
// from app::two_host_config.
struct Topology {
  Topology(const nic::hw::NicProfile& profile, std::uint32_t channels, std::uint64_t seed)
      : streams(seed), link(events, streams, "ab", nic::hw::LinkConfig{}) {
    for (int i = 0; i < 2; ++i) {
      const app::HostConfig c = app::two_host_config(i, profile, channels, seed);
      nic::hw::SteeringConfig sc;
      sc.rx_queues = channels;
      sc.max_rx_queues = profile.channels.max_queues;
      auto steering = nic::hw::Steering::create(sc);
      if (!steering.has_value()) {
        std::fprintf(stderr, "ncdevmem: %u channels do not fit the profile\n", channels);
        std::exit(1);
      }
      hosts[i] = std::make_unique<app::Host>(events, link.port(i), frames, c, std::move(*steering));
    }
  }
  ~Topology() {
    for (auto& h : hosts) h.reset();
  }
  Topology(const Topology&) = delete;
  Topology& operator=(const Topology&) = delete;

  sim::EventQueue events;
  sim::RandomStreams streams;
  nic::hw::FramePool frames;
  nic::hw::Link link;
  std::unique_ptr<app::Host> hosts[2];
};

}  // namespace

int main(int argc, char** argv) {
  Cli cli;
  if (const char* err = parse(argc, argv, cli)) return usage(err);
  cli.opt.log = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };

  const std::string path = cli.nic.find('/') != std::string::npos
                               ? cli.nic
                               : std::string(NICEMU_NCDEVMEM_CONFIGS_DIR) + "/nics/" + cli.nic + ".yaml";
  auto profile = app::load_nic_profile(path);
  if (!profile.has_value()) {
    std::fputs(profile.error().to_string().c_str(), stderr);
    return 1;
  }
  if (cli.channels > profile.value().channels.max_queues) return usage("--channels is above the profile's max-queues");
  Topology topo(profile.value(), cli.channels, cli.seed);
  app::Host& me = cli.host == "a" ? *topo.hosts[0] : *topo.hosts[1];
  app::Host& peer = cli.host == "a" ? *topo.hosts[1] : *topo.hosts[0];
  std::fprintf(stderr, "ncdevmem on host %s (%s, %u channels of %s)\n", me.name().c_str(), me.nic().name().c_str(),
               cli.channels, profile.value().name.c_str());

  const nc::Mode mode = nc::mode_of(cli.opt);
  if (mode == nc::Mode::kBindTests) {
    const nc::ModeAResult r = nc::run_devmem_tests(me, cli.opt);
    for (const auto& s : r.steps) {
      std::fprintf(stderr, "  [%s] %s%s%s\n", s.ok ? "ok" : "FAIL", s.name.c_str(), s.err != 0 ? ": errno " : "",
                   s.err != 0 ? (std::to_string(s.err) + (s.extack.empty() ? "" : " (" + s.extack + ")")).c_str() : "");
    }
    topo.events.run_until(topo.events.now() + sim::Duration::from_ms(100));  // the restarts settle
    std::fprintf(stderr, "%s\n", r.pass ? "ncdevmem: PASS" : ("ncdevmem: FAIL: " + r.reason).c_str());
    return r.pass ? 0 : 1;
  }

  nc::Program* main_app = nullptr;
  nc::PeerSinkServer* sink = nullptr;
  if (mode == nc::Mode::kServer) {
    main_app = &static_cast<nc::Program&>(me.add_app(std::make_unique<nc::DevmemServer>(me, cli.opt)));
    nc::Options peer_opt = cli.opt;
    peer_opt.log = nullptr;
    nc::PeerOptions po;
    po.bytes = cli.bytes;
    peer.add_app(std::make_unique<nc::PeerPatternClient>(peer, peer_opt, po));
    me.kick();
    peer.kick();
  } else {
    cli.opt.tx_lines = nc::split_lines(cli.input);
    nc::Options peer_opt = cli.opt;
    peer_opt.log = nullptr;
    sink = &static_cast<nc::PeerSinkServer&>(peer.add_app(std::make_unique<nc::PeerSinkServer>(peer, peer_opt)));
    main_app = &static_cast<nc::Program&>(me.add_app(std::make_unique<nc::DevmemClient>(me, cli.opt)));
    peer.kick();  // the sink listens before the client's SYN leaves
    me.kick();
  }
  const sim::TimePoint end = topo.events.now() + sim::Duration::from_ms(cli.limit_ms);
  topo.events.run_until([&] { return main_app->done() && (sink == nullptr || sink->done()); }, end);
  if (!main_app->done()) {
    me.shutdown();
    peer.shutdown();
  }
  const nc::Result& r = main_app->result();
  const nc::Counters& c = r.counters;
  if (mode == nc::Mode::kServer) {
    std::fprintf(stderr,
                 "received %llu bytes (%llu in %llu frags, %llu page-aligned; %llu linear), %llu tokens freed\n",
                 static_cast<unsigned long long>(c.bytes_received), static_cast<unsigned long long>(c.dmabuf_bytes),
                 static_cast<unsigned long long>(c.frags), static_cast<unsigned long long>(c.page_aligned_frags),
                 static_cast<unsigned long long>(c.linear_bytes), static_cast<unsigned long long>(c.tokens_freed));
  } else if (sink != nullptr) {
    std::fprintf(stderr, "peer received %zu bytes\n", sink->received().size());
    std::fwrite(sink->received().data(), 1, sink->received().size(), stdout);
    std::fflush(stdout);
  }
  std::fprintf(stderr, "%s\n", r.pass() ? "ncdevmem: PASS" : ("ncdevmem: FAIL: " + r.reason).c_str());
  return r.pass() ? 0 : 1;
}
