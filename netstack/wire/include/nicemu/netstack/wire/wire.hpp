// nicemu/netstack/wire/wire.hpp — every wire format in one include (tests, tools, the fuzzer).
// Library code includes the one header it uses.
//
// Models: nothing of its own; see each header.
// Not modelled: see each header.
// References: see each header.
#pragma once

#include "nicemu/netstack/wire/address.hpp"
#include "nicemu/netstack/wire/arp.hpp"
#include "nicemu/netstack/wire/checksum.hpp"
#include "nicemu/netstack/wire/error.hpp"
#include "nicemu/netstack/wire/ethernet.hpp"
#include "nicemu/netstack/wire/icmpv4.hpp"
#include "nicemu/netstack/wire/icmpv6.hpp"
#include "nicemu/netstack/wire/ip_protocol.hpp"
#include "nicemu/netstack/wire/ipv4.hpp"
#include "nicemu/netstack/wire/ipv6.hpp"
#include "nicemu/netstack/wire/packet.hpp"
#include "nicemu/netstack/wire/tcp.hpp"
#include "nicemu/netstack/wire/udp.hpp"
