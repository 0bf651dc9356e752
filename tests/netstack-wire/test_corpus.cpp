// Writes the golden frames as the fuzz seed corpus (fuzz/corpus/wire/). Hidden: run by hand,
//   NICEMU_CORPUS_DIR=fuzz/corpus/wire build-wire/tests/netstack-wire/tests_netstack_wire "[.write_corpus]"
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <string>

#include "golden_packets.hpp"

TEST_CASE("corpus: write every golden frame as <name>.bin", "[.write_corpus]") {
  const char* dir = std::getenv("NICEMU_CORPUS_DIR");
  REQUIRE(dir != nullptr);
  for (const wire_test::GoldenFrame& g : wire_test::all_golden_frames()) {
    std::ofstream out(std::string(dir) + "/" + g.name + ".bin", std::ios::binary);
    out.write(reinterpret_cast<const char*>(g.bytes.data()), static_cast<std::streamsize>(g.bytes.size()));
    REQUIRE(out.good());
  }
}
