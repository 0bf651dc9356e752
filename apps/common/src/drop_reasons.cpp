// Every drop reason a run report can name, collected from the layers' own name functions.
#include "nicemu/app/drop_reasons.hpp"

#include <algorithm>
#include <cstddef>

#include "nicemu/netstack/inet/stack.hpp"
#include "nicemu/nic/hw/link.hpp"
#include "nicemu/nic/hw/switch.hpp"

namespace nicemu::app::drop_reason {

const std::vector<std::string_view>& all() {
  static const std::vector<std::string_view> kAll = [] {
    std::vector<std::string_view> v;
    auto add = [&v](std::string_view name) {
      if (std::find(v.begin(), v.end(), name) == v.end()) v.push_back(name);
    };
    for (std::size_t i = 0; i < static_cast<std::size_t>(nic::hw::DropReason::kCount); ++i) {
      add(nic::hw::to_string(static_cast<nic::hw::DropReason>(i)));
    }
    for (std::size_t i = 0; i < static_cast<std::size_t>(nic::hw::SwitchDrop::kCount); ++i) {
      add(nic::hw::to_string(static_cast<nic::hw::SwitchDrop>(i)));
    }
    for (std::string_view n : {kRxFifo, kRxSteer, kRxQueueStopped, kTxPort, kRxSkbAllocFail, kRxRestartDiscards,
                               kTxRestartDiscards, kHwDropOverruns, kDmaFault, kQdiscFull, kUnreadableXmit}) {
      add(n);
    }
    for (std::size_t i = 0; i < static_cast<std::size_t>(netstack::inet::DropReason::kCount); ++i) {
      add(netstack::inet::to_string(static_cast<netstack::inet::DropReason>(i)));
    }
    return v;
  }();
  return kAll;
}

}  // namespace nicemu::app::drop_reason
