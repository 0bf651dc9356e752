// nicemu/base/errno.hpp — the kernel's errno values and their names.
//
// Interfaces that mirror a kernel interface return what the kernel returns: 0 or a negative
// errno (-EINVAL, -ENODATA, ...). nicemu runs on Linux, so <cerrno> already holds the kernel's
// numbers; kernel-internal codes that userspace headers lack are defined here.
// References: include/uapi/asm-generic/errno-base.h, errno.h; include/linux/errno.h.
#pragma once

#include <cerrno>
#include <string>

namespace nicemu::base {

// Kernel-internal (include/linux/errno.h), never seen by userspace programs.
inline constexpr int kETOOSMALL = 525;  // put_cmsg_notrunc(): control buffer too small

// "EINVAL" for EINVAL or -EINVAL; "errno 1234" for a value without a name here.
std::string errno_name(int err);

}  // namespace nicemu::base
