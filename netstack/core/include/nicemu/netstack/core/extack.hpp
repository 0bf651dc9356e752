// nicemu/netstack/core/extack.hpp — the extended error report of a control operation.
//
// Models: struct netlink_ext_ack as the core fills it (include/linux/netlink.h): a message that
//   says what to fix (NL_SET_ERR_MSG) and the attribute that was wrong (NL_SET_BAD_ATTR). As in
//   the kernel the pointer may be null (in-kernel callers such as net_mp_open_rxq() pass NULL),
//   and a later message replaces an earlier one.
// Not modelled: the netlink encoding (offsets of the bad attribute, policy dumps, cookies).
//   A bad attribute is named by its netlink spec name ("ifindex", "combined-count"); attributes
//   inside a nest are written "nest.attr" ("info.ifindex").
// References: include/linux/netlink.h (NL_SET_ERR_MSG, NL_SET_BAD_ATTR, NL_SET_ERR_MSG_ATTR).
#pragma once

#include <string>
#include <utility>

namespace nicemu::netstack::core {

struct Extack {
  std::string msg;
  std::string bad_attr;
};

// kernel: NL_SET_ERR_MSG(extack, msg)
inline void nl_set_err_msg(Extack* extack, std::string msg) {
  if (extack != nullptr) extack->msg = std::move(msg);
}

// kernel: NL_SET_BAD_ATTR(extack, attr)
inline void nl_set_bad_attr(Extack* extack, std::string attr) {
  if (extack != nullptr) extack->bad_attr = std::move(attr);
}

// kernel: NL_SET_ERR_MSG_ATTR(extack, attr, msg)
inline void nl_set_err_msg_attr(Extack* extack, std::string attr, std::string msg) {
  nl_set_bad_attr(extack, std::move(attr));
  nl_set_err_msg(extack, std::move(msg));
}

}  // namespace nicemu::netstack::core
