#include "nicemu/base/errno.hpp"

#include <cstdlib>

namespace nicemu::base {

std::string errno_name(int err) {
  switch (std::abs(err)) {
    case 0: return "0";
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EBADF: return "EBADF";
    case ENOMEM: return "ENOMEM";
    case EFAULT: return "EFAULT";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case ENODEV: return "ENODEV";
    case EINVAL: return "EINVAL";
    case ENOSPC: return "ENOSPC";
    case ERANGE: return "ERANGE";
    case EAGAIN: return "EAGAIN";
    case ENODATA: return "ENODATA";
    case E2BIG: return "E2BIG";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case ENETDOWN: return "ENETDOWN";
    case EHOSTUNREACH: return "EHOSTUNREACH";
    case EMSGSIZE: return "EMSGSIZE";
    case ENOTCONN: return "ENOTCONN";
    case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
    case kETOOSMALL: return "ETOOSMALL";
    default: return "errno " + std::to_string(std::abs(err));
  }
}

}  // namespace nicemu::base
