// The built-in default scenario (nicemu run without a file); configs/scenarios/default.yaml
// holds the same text and tests/apps-scenario checks that the two stay identical.
#include "nicemu/app/scenario.hpp"

namespace nicemu::app {

std::string_view default_scenario_yaml() {
  static constexpr std::string_view kText = R"yaml(# The built-in default scenario (the flagship): what `nicemu run` does without a scenario file.
# Devmem TCP at 200 Gbit/s, as the published devmem measurement ran it: host a sends with ordinary
# TCP; host b's header-split NIC (gve-dqo) has its upper RX queues 2 and 3 bound to a dma-buf in
# device memory (behind the PCIe switch), RSS spreads other traffic over queues 0 and 1, and
# ntuple rules steer the 8 flows to the bound queues. MTU 8244 gives MSS 8192 with TCP
# timestamps: each segment's payload is two whole 4 KiB net_iovs. The receiver reads with
# recvmsg(MSG_SOCK_DEVMEM), checks every byte through its mapping of the dma-buf and gives each
# token back with SO_DEVMEM_DONTNEED; headers alone go through host memory.
# apps/common's default_scenario_yaml() holds this same text (a test checks).
# Format: configs/README.md, "Scenario files".
name: default
description: "devmem TCP: 200 Gbit/s into device memory, header split, 8 flows on 2 bound queues, every byte validated"
seed: 1

hosts:
  a:
    cpus: {count: 4, ghz: 3.0}
    nic:
      profile: gve-dqo
      channels: {rx: 4, tx: 4}
      rings: {tcp-data-split: enabled, rx-buf-len: 4096}
    addresses: [10.0.0.1/24]
  b:
    cpus: {count: 4, ghz: 3.0}
    nic:
      profile: gve-dqo
      channels: {rx: 4, tx: 4}
      rings: {tcp-data-split: enabled, rx-buf-len: 4096}
      rss:
        indir: {equal: 2}
      ntuple:
        - {flow-type: tcp4, dst-ip: 10.0.0.2, dst-port: 5201, action: queue 2}
        - {flow-type: tcp4, dst-ip: 10.0.0.2, dst-port: 5202, action: queue 3}
        - {flow-type: tcp4, dst-ip: 10.0.0.2, dst-port: 5203, action: queue 2}
        - {flow-type: tcp4, dst-ip: 10.0.0.2, dst-port: 5204, action: queue 3}
        - {flow-type: tcp4, dst-ip: 10.0.0.2, dst-port: 5205, action: queue 2}
        - {flow-type: tcp4, dst-ip: 10.0.0.2, dst-port: 5206, action: queue 3}
        - {flow-type: tcp4, dst-ip: 10.0.0.2, dst-port: 5207, action: queue 2}
        - {flow-type: tcp4, dst-ip: 10.0.0.2, dst-port: 5208, action: queue 3}
    devmem:
      dmabuf: {size: 64MiB, placement: device}
      bind-rx: [2, 3]
    addresses: [10.0.0.2/24]

links:
  ab:
    ends: [a, b]
    rate: 200G
    delay: 10ns
    mtu: 8244

workloads:
  bulk:
    type: bulk-tcp
    from: a
    to: b
    port: 5201
    start: 1ms
    flows: 8
    bytes: 64MiB
    write-size: 64KiB
    pattern-seed: 1
    validate: true
    devmem-rx: true

stop: {when: workloads-done, time: 2s}

expect:
  validation-errors: 0
  no-leaks: true
  workloads-done: true
)yaml";
  return kText;
}

}  // namespace nicemu::app
