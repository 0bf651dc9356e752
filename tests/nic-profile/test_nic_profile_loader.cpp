// Loading NIC profiles from YAML (apps/common): the three presets load and validate, every
// number in them carries a comment, and each kind of mistake - malformed YAML, unknown key,
// duplicate key, missing key, wrong type, out-of-range or inconsistent value, unreadable file -
// is an error that names the file, the line and the key, and says what is allowed.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <string>

#include "nicemu/app/nic_profile_loader.hpp"
#include "config_text.hpp"

using namespace nicemu;
using namespace nicemu::app;
using namespace nicemu::nic::hw;
using namespace nicemu::sim::literals;

using nicemu::testing::edit;
using nicemu::testing::line_of;
using nicemu::testing::read_text;

namespace {

const std::string kNics = std::string(NICEMU_CONFIGS_DIR) + "/nics/";

// The one error `r` holds (by value: callers pass temporaries).
ConfigError only_error(const NicProfileResult& r) {
  REQUIRE_FALSE(r.has_value());
  INFO(r.error().to_string());
  REQUIRE(r.error().errors.size() == 1);
  return r.error().errors[0];
}

const std::string kSource = "configs/nics/test.yaml";

}  // namespace

TEST_CASE("profile loader: the three presets load and validate", "[profile][loader][unit]") {
  for (const char* name : {"gve-dqo", "bnxt-thor", "mlx5"}) {
    const std::string path = kNics + name + ".yaml";
    INFO(path);
    const NicProfileResult r = load_nic_profile(path);
    if (!r) FAIL(r.error().to_string());
    CHECK(r->name == name);
    CHECK(validate_nic_profile(*r).empty());
    CHECK(r->header_split.supported);
    REQUIRE(r->p2p.has_value());
    CHECK(r->pcie.dllp_overhead_ppm == 8553);
  }
}

TEST_CASE("profile loader: preset values come through as written", "[profile][loader][unit]") {
  const NicProfileResult gve = load_nic_profile(kNics + "gve-dqo.yaml");
  REQUIRE(gve);
  CHECK(gve->rings.rx_buf_len_default == 2048);  // GVE_DEFAULT_RX_BUFFER_SIZE
  CHECK(gve->rings.rx_buf_len_allowed == std::vector<std::uint32_t>{2048, 4096});
  CHECK(gve->rings.rx.min == 512);
  CHECK(gve->header_split.header_buf_len == 128);
  CHECK(gve->header_split.non_qualifying == NonQualifyingPlacement::kPayloadBuffers);
  CHECK(gve->descriptors.tx_cqe_bytes == 8);
  CHECK(gve->tso.max_size_bytes == 0x3FFFF);
  CHECK(gve->coalesce.rx_usecs == 20);
  CHECK(gve->pcie.read_latency == 500_ns);
  CHECK(gve->p2p->write_latency == 150_ns);
  CHECK(gve->restart.firmware_quiesce == 100_us);
  CHECK(gve->restart.scope == RestartScope::kAllQueues);

  const NicProfileResult bnxt = load_nic_profile(kNics + "bnxt-thor.yaml");
  REQUIRE(bnxt);
  CHECK(bnxt->channels.max_queues == 128);
  CHECK(bnxt->channels.max.combined == 128);
  CHECK(bnxt->header_split.hds_thresh_max == 1023);
  CHECK(bnxt->header_split.non_qualifying == NonQualifyingPlacement::kHeaderBufferIfFits);
  CHECK(bnxt->mtu_max == 9500);
  CHECK(bnxt->rings.tx.min == 19);
  CHECK(bnxt->descriptors.tx_prefetch == 8);
  CHECK(bnxt->pipeline.rx_fifo_bytes == 1048576);
  CHECK(gve->descriptors.tx_prefetch == 4);
  CHECK(gve->pipeline.rx_fifo_bytes == 262144);

  const NicProfileResult mlx5 = load_nic_profile(kNics + "mlx5.yaml");
  REQUIRE(mlx5);
  CHECK(mlx5->pcie.generation == 5);
  CHECK(mlx5->channels.max.combined == 256);
  CHECK(mlx5->restart.mode == 0);
  CHECK(mlx5->pcie.completion_split == CompletionSplit::kMps);
  CHECK_FALSE(mlx5->header_split.split_udp);
}

TEST_CASE("profile loader: every number in the presets carries a comment", "[profile][loader][unit]") {
  // A numeric value needs a comment on its line or on the comment lines right above it.
  for (const char* name : {"gve-dqo", "bnxt-thor", "mlx5"}) {
    std::istringstream in(read_text(kNics + name + ".yaml"));
    std::string line;
    bool comment_above = false;
    int number = 0;
    while (std::getline(in, line)) {
      ++number;
      const std::size_t first = line.find_first_not_of(' ');
      if (first == std::string::npos) {
        comment_above = false;
        continue;
      }
      if (line[first] == '#') {
        comment_above = true;
        continue;
      }
      const std::size_t colon = line.find(": ");
      const bool numeric = colon != std::string::npos && colon + 2 < line.size() &&
                           (std::isdigit(static_cast<unsigned char>(line[colon + 2])) || line[colon + 2] == '[');
      if (numeric) {
        INFO(name << ".yaml line " << number << ": " << line);
        CHECK((line.find('#') != std::string::npos || comment_above));
      }
      comment_above = false;
    }
  }
}

TEST_CASE("profile loader: malformed YAML names the file, the line and the key", "[profile][loader][unit]") {
  const std::string text = edit(read_text(kNics + "gve-dqo.yaml"), "  lanes: 16 ", "  lanes: 16: 3 ");
  const ConfigError e = only_error(parse_nic_profile(text, kSource));
  CHECK(e.kind == ConfigErrorKind::kSyntax);
  CHECK(e.file == kSource);
  CHECK(e.line == line_of(text, "lanes: 16: 3"));
  CHECK(e.key == "pcie.lanes");
  CHECK(e.message.find("YAML syntax error") != std::string::npos);
  CHECK(e.to_string().starts_with(kSource + ":" + std::to_string(e.line) + ":"));
}

TEST_CASE("profile loader: an unknown key is an error listing the allowed keys", "[profile][loader][unit]") {
  const std::string text = edit(read_text(kNics + "bnxt-thor.yaml"), "  lanes: 16", "  lane: 16");
  const NicProfileResult r = parse_nic_profile(text, kSource);
  REQUIRE_FALSE(r);
  // The misspelt key is unknown, and the real one is now missing.
  REQUIRE(r.error().errors.size() == 2);
  const ConfigError& missing = r.error().errors[0];  // reported at the enclosing "pcie:" line
  CHECK(missing.kind == ConfigErrorKind::kMissingKey);
  CHECK(missing.key == "pcie.lanes");
  CHECK(missing.line == line_of(text, "\npcie:") + 1);
  CHECK(missing.message.find("one of 1, 2, 4, 8, 16") != std::string::npos);
  const ConfigError& unknown = r.error().errors[1];
  CHECK(unknown.kind == ConfigErrorKind::kUnknownKey);
  CHECK(unknown.file == kSource);
  CHECK(unknown.key == "pcie.lane");
  CHECK(unknown.line == line_of(text, "  lane: 16"));
  CHECK(unknown.column == 3);
  CHECK(unknown.message.find("unknown key 'lane'") != std::string::npos);
  CHECK(unknown.message.find("generation, lanes, max-payload-bytes") != std::string::npos);
}

TEST_CASE("profile loader: an unknown top-level section is an error", "[profile][loader][unit]") {
  const std::string text = read_text(kNics + "mlx5.yaml") + "turbo:\n  enabled: true\n";
  const ConfigError e = only_error(parse_nic_profile(text, kSource));
  CHECK(e.kind == ConfigErrorKind::kUnknownKey);
  CHECK(e.key == "turbo");
  CHECK(e.line == line_of(text, "turbo:"));
}

TEST_CASE("profile loader: a wrong type names the key and what was expected", "[profile][loader][unit]") {
  const std::string base = read_text(kNics + "gve-dqo.yaml");
  SECTION("a word where an integer belongs") {
    const std::string text = edit(base, "mtu-max: 8896", "mtu-max: large");
    const ConfigError e = only_error(parse_nic_profile(text, kSource));
    CHECK(e.kind == ConfigErrorKind::kWrongType);
    CHECK(e.key == "mtu-max");
    CHECK(e.line == line_of(text, "mtu-max: large"));
    CHECK(e.message == "expected an unsigned integer (allowed: 68 to 65535 bytes), got 'large'");
  }
  SECTION("a quoted number is a string") {
    const std::string text = edit(base, "  rx-usecs: 20", "  rx-usecs: \"20\"");
    const ConfigError e = only_error(parse_nic_profile(text, kSource));
    CHECK(e.kind == ConfigErrorKind::kWrongType);
    CHECK(e.key == "coalesce.rx-usecs");
    CHECK(e.message.find("the quoted string \"20\"") != std::string::npos);
  }
  SECTION("decimals, hex and signs are not unsigned integers") {
    for (const char* bad : {"16.0", "0x10", "+16", "1e3"}) {
      const std::string text = edit(base, "  lanes: 16 ", std::string("  lanes: ") + bad + " ");
      const ConfigError e = only_error(parse_nic_profile(text, kSource));
      INFO(bad);
      CHECK(e.kind == ConfigErrorKind::kWrongType);
      CHECK(e.key == "pcie.lanes");
    }
  }
  SECTION("yes and no are not booleans") {
    const std::string text = edit(base, "  supported: true", "  supported: yes");
    const ConfigError e = only_error(parse_nic_profile(text, kSource));
    CHECK(e.kind == ConfigErrorKind::kWrongType);
    CHECK(e.key == "header-split.supported");
  }
  SECTION("a number where true or false belongs") {
    const std::string text = edit(base, "  ecrc: false", "  ecrc: 0");
    const ConfigError e = only_error(parse_nic_profile(text, kSource));
    CHECK(e.kind == ConfigErrorKind::kWrongType);
    CHECK(e.key == "pcie.ecrc");
    CHECK(e.message == "expected true or false, got '0'");
  }
  SECTION("a scalar where a map belongs") {
    const std::string text = edit(base, "tso:\n  max-size-bytes: 262143", "tso: 5\nxtso:\n  max-size-bytes: 262143");
    const NicProfileResult r = parse_nic_profile(text, kSource);
    REQUIRE_FALSE(r);
    CHECK(r.error().errors[0].kind == ConfigErrorKind::kWrongType);
    CHECK(r.error().errors[0].key == "tso");
  }
  SECTION("an unknown name") {
    const std::string text = edit(base, "  scope: all-queues", "  scope: everything");
    const ConfigError e = only_error(parse_nic_profile(text, kSource));
    CHECK(e.kind == ConfigErrorKind::kInvalidValue);
    CHECK(e.key == "restart.scope");
    CHECK(e.message == "'everything' is not allowed; allowed: queue, all-queues, device");
  }
}

TEST_CASE("profile loader: an out-of-range value names the key and the allowed range", "[profile][loader][unit]") {
  const std::string base = read_text(kNics + "mlx5.yaml");
  SECTION("checked by the hardware model") {
    const std::string text = edit(base, "  max-payload-bytes: 256 ", "  max-payload-bytes: 384 ");
    const ConfigError e = only_error(parse_nic_profile(text, kSource));
    CHECK(e.kind == ConfigErrorKind::kInvalidValue);
    CHECK(e.file == kSource);
    CHECK(e.key == "pcie.max-payload-bytes");
    CHECK(e.line == line_of(text, "max-payload-bytes: 384"));
    CHECK(e.message == "384 is not allowed; allowed: a power of two from 128 to 4096 bytes");
    CHECK(e.to_string() == kSource + ":" + std::to_string(e.line) +
                               ":3: pcie.max-payload-bytes: 384 is not allowed; allowed: a power of two from 128 to "
                               "4096 bytes");
  }
  SECTION("descriptor prefetch and the RX FIFO") {
    std::string text = edit(base, "  tx-prefetch: 4 ", "  tx-prefetch: 0 ");
    ConfigError e = only_error(parse_nic_profile(text, kSource));
    CHECK(e.key == "descriptors.tx-prefetch");
    CHECK(e.message == "0 is not allowed; allowed: 1 to 256 descriptors");
    text = edit(base, "  rx-fifo-bytes: 524288 ", "  rx-fifo-bytes: 1000 ");
    e = only_error(parse_nic_profile(text, kSource));
    CHECK(e.key == "pipeline.rx-fifo-bytes");
    CHECK(e.message == "1000 is not allowed; allowed: 16384 to 67108864 bytes");
  }
  SECTION("negative") {
    const std::string text = edit(base, "  mode: 0", "  mode: -1");
    const ConfigError e = only_error(parse_nic_profile(text, kSource));
    CHECK(e.kind == ConfigErrorKind::kInvalidValue);
    CHECK(e.key == "restart.mode");
    CHECK(e.message == "-1 is not allowed; allowed: 0 to 3");
  }
  SECTION("too big for the field") {
    const std::string text = edit(base, "  generation: 5 ", "  generation: 99999999999 ");
    const ConfigError e = only_error(parse_nic_profile(text, kSource));
    CHECK(e.kind == ConfigErrorKind::kInvalidValue);
    CHECK(e.key == "pcie.generation");
    CHECK(e.message == "99999999999 is not allowed; allowed: 1 to 5");
  }
  SECTION("inconsistent with another key") {
    const std::string text = edit(base, "    default: 1024       # 1 << MLX5E_PARAMS_DEFAULT_LOG_RQ_SIZE",
                                  "    default: 9000       # 1 << MLX5E_PARAMS_DEFAULT_LOG_RQ_SIZE");
    const ConfigError e = only_error(parse_nic_profile(text, kSource));
    CHECK(e.kind == ConfigErrorKind::kInvalidValue);
    CHECK(e.key == "rings.rx.default");
    CHECK(e.line == line_of(text, "default: 9000"));
    CHECK(e.message.find("allowed: rings.rx.min to rings.rx.max (16 to 8192)") != std::string::npos);
  }
  SECTION("a list item") {
    const std::string text = edit(base, "allowed: [4096]", "allowed: [4096, 5000]");
    const ConfigError e = only_error(parse_nic_profile(text, kSource));
    CHECK(e.key == "rings.rx-buf-len.allowed");
    CHECK(e.line == line_of(text, "allowed: [4096, 5000]"));
  }
}

TEST_CASE("profile loader: missing and duplicate keys", "[profile][loader][unit]") {
  const std::string base = read_text(kNics + "bnxt-thor.yaml");
  SECTION("missing") {
    const std::string text = edit(base, "mtu-max: 9500", "");
    const ConfigError e = only_error(parse_nic_profile(text, kSource));
    CHECK(e.kind == ConfigErrorKind::kMissingKey);
    CHECK(e.key == "mtu-max");
    CHECK(e.message == "missing; expected an unsigned integer (allowed: 68 to 65535 bytes)");
  }
  SECTION("the optional p2p section may be left out") {
    std::string text = base;
    const std::size_t from = text.find("\np2p:");
    const std::size_t to = text.find("\nmtu-max:");
    text.erase(from, to - from);
    const NicProfileResult r = parse_nic_profile(text, kSource);
    if (!r) FAIL(r.error().to_string());
    CHECK_FALSE(r->p2p.has_value());
  }
  SECTION("duplicate") {
    const std::string text = edit(base, "mtu-max: 9500", "mtu-max: 9500\nmtu-max: 1500");
    const ConfigError e = only_error(parse_nic_profile(text, kSource));
    CHECK(e.kind == ConfigErrorKind::kDuplicateKey);
    CHECK(e.key == "mtu-max");
    CHECK(e.line == line_of(text, "mtu-max: 1500"));
  }
}

TEST_CASE("profile loader: several mistakes are all reported, in file order", "[profile][loader][unit]") {
  std::string text = read_text(kNics + "gve-dqo.yaml");
  text = edit(text, "  lanes: 16", "  lanes: x16");
  text = edit(text, "  max-queues: 16", "  max-queue: 16");
  const NicProfileResult r = parse_nic_profile(text, kSource);
  REQUIRE_FALSE(r);
  const auto& errors = r.error().errors;
  REQUIRE(errors.size() == 3);  // missing max-queues, unknown max-queue, wrong type lanes
  for (std::size_t i = 1; i < errors.size(); ++i) CHECK(errors[i - 1].line <= errors[i].line);
  CHECK(errors.back().key == "pcie.lanes");
  // One line per error.
  const std::string all = r.error().to_string();
  CHECK(std::count(all.begin(), all.end(), '\n') == 3);
}

TEST_CASE("profile loader: an unreadable or empty file is an error naming it", "[profile][loader][unit]") {
  const std::string missing = kNics + "no-such-nic.yaml";
  const ConfigError io = only_error(load_nic_profile(missing));
  CHECK(io.kind == ConfigErrorKind::kIo);
  CHECK(io.file == missing);
  CHECK(io.message.find("cannot open the file") != std::string::npos);
  CHECK(io.to_string().starts_with(missing + ": "));

  const ConfigError empty = only_error(parse_nic_profile("", kSource));
  CHECK(empty.kind == ConfigErrorKind::kWrongType);
  CHECK(empty.message.find("expected the file to be a map") != std::string::npos);

  const ConfigError list = only_error(parse_nic_profile("- a\n- b\n", kSource));
  CHECK(list.kind == ConfigErrorKind::kWrongType);
  CHECK(list.line == 1);
}

TEST_CASE("profile loader: the key path of a syntax error follows indentation", "[profile][loader][unit]") {
  // Also the path shown for a bad line nested two levels deep.
  const std::string text = edit(read_text(kNics + "mlx5.yaml"), "    parse: 4 ", "    parse: 4: 4 ");
  const ConfigError e = only_error(parse_nic_profile(text, kSource));
  CHECK(e.kind == ConfigErrorKind::kSyntax);
  CHECK(e.key == "pipeline.cycles.parse");
  CHECK(e.line == line_of(text, "parse: 4: 4"));
}
