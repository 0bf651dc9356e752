// nicemu/base/int128.hpp — 128-bit integers for exact time and rate arithmetic.
// GCC's __int128 is an extension; __extension__ keeps -Wpedantic quiet in one place.
#pragma once

namespace nicemu::base {
__extension__ typedef unsigned __int128 u128;
__extension__ typedef __int128 i128;
}  // namespace nicemu::base
