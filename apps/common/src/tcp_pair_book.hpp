// tcp_pair_book.hpp — the bookkeeping both TCP workloads (bulk, request/response) keep for their
// client/server connection pairs: which side closed, whether the server accepted, and when the
// server is done with a pair (it closed it, or the client gave the pair up before the server
// accepted it, so nothing will come). Private to apps/common.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace nicemu::app::detail {

class TcpPairBook {
 public:
  struct Pair {
    bool client_closed = false;
    bool server_closed = false;
    bool server_accepted = false;
    bool server_counted = false;  // counted in server_done_count()
  };

  explicit TcpPairBook(std::size_t pairs) : pairs_(pairs) {}

  const Pair& pair(std::size_t i) const { return pairs_[i]; }
  std::size_t size() const { return pairs_.size(); }
  // Pairs the client closed before the server accepted them.
  std::uint64_t client_gave_up() const { return client_gave_up_; }
  // Pairs i with server_done(i).
  std::size_t server_done_count() const { return server_done_; }

  // One side closed pair i; true when both sides now have (the pair ends).
  bool closed(std::size_t i, bool client) {
    Pair& p = pairs_[i];
    (client ? p.client_closed : p.server_closed) = true;
    if (client && !p.server_accepted) ++client_gave_up_;
    count_server_done(i);
    return p.client_closed && p.server_closed;
  }
  void accepted(std::size_t i) {
    Pair& p = pairs_[i];
    p.server_accepted = true;
    if (p.server_counted) {  // the client had given up, yet its connection came through
      p.server_counted = false;
      --server_done_;
    }
  }
  bool server_done(std::size_t i) const {
    const Pair& p = pairs_[i];
    return p.server_closed || (p.client_closed && !p.server_accepted);
  }

 private:
  void count_server_done(std::size_t i) {
    if (!pairs_[i].server_counted && server_done(i)) {
      pairs_[i].server_counted = true;
      ++server_done_;
    }
  }

  std::vector<Pair> pairs_;
  std::uint64_t client_gave_up_ = 0;
  std::size_t server_done_ = 0;
};

}  // namespace nicemu::app::detail
