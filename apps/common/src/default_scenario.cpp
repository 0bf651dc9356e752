// The built-in default scenario (nicemu run without a file); configs/scenarios/default.yaml
// holds the same text and tests/apps-scenario checks that the two stay identical.
#include "nicemu/app/scenario.hpp"

namespace nicemu::app {

std::string_view default_scenario_yaml() {
  static constexpr std::string_view kText = R"yaml(# The built-in default scenario: what `nicemu run` does without a scenario file.
# Two hosts on one 100 Gbit/s link; header split on, 4 combined channels, 8 bulk TCP flows from
# a to b spread over the 4 RX queues by RSS; every byte is validated; the run stops when the
# flows are done. MTU 8244 gives MSS 8192 with TCP timestamps: each segment's payload fills two
# 4 KiB payload buffers exactly, the page-aligned layout header split exists for (the published
# devmem TCP measurement used it too). `--set links.ab.mtu=1500` runs standard frames. apps/common's default_scenario_yaml() holds this same text (a test checks).
# Format: configs/README.md, "Scenario files".
name: default
description: "two hosts, 100 Gbit/s, header split, 8 bulk TCP flows spread by RSS, all bytes validated"
seed: 1

hosts:
  a:
    cpus: {count: 4, ghz: 3.0}
    nic:
      profile: bnxt-thor
      channels: {combined: 4}
      rings: {tcp-data-split: enabled, hds-thresh: 0}
    addresses: [10.0.0.1/24]
  b:
    cpus: {count: 4, ghz: 3.0}
    nic:
      profile: bnxt-thor
      channels: {combined: 4}
      rings: {tcp-data-split: enabled, hds-thresh: 0}
      rss:
        indir: {equal: 4}
        hash: {tcp4: sdfn}
    addresses: [10.0.0.2/24]

links:
  ab:
    ends: [a, b]
    rate: 100G
    delay: 10ns
    mtu: 8244

workloads:
  bulk:
    type: bulk-tcp
    from: a
    to: b
    port: 5201
    flows: 8
    bytes: 64MiB
    write-size: 64KiB
    pattern-seed: 1
    validate: true

stop: {when: workloads-done, time: 2s}

expect:
  validation-errors: 0
  no-leaks: true
  workloads-done: true
)yaml";
  return kText;
}

}  // namespace nicemu::app
