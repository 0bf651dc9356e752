// report_table.cpp — the run report's own arithmetic (speed, drops, verdict) and the
// fixed-width summary table printed at the end of every run (report.hpp).
//
// Layout: a header (scenario, seed, times, speed, digest), flows, per host the CPUs, TCP totals
// and per NIC a transposed qstats table (rows: counters, columns: device total and queues) and
// a page-pool table (rows: stats, columns: pools), links, the switch, drops by place and reason,
// expectations, leaks, errors and the verdict line. Transposed tables are cut into blocks of
// columns so that each line fits kWidth; rows that are zero everywhere are left out, and a
// counter a column does not have prints as "-".
#include <algorithm>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "nicemu/app/report.hpp"

namespace nicemu::app {

namespace {

constexpr std::size_t kWidth = 100;

[[gnu::format(printf, 1, 2)]] std::string strf(const char* format, ...) {
  char buf[256];
  va_list ap;
  va_start(ap, format);
  const int n = std::vsnprintf(buf, sizeof buf, format, ap);
  va_end(ap);
  if (n < 0) return {};
  if (static_cast<std::size_t>(n) < sizeof buf) return std::string(buf, static_cast<std::size_t>(n));
  std::string s(static_cast<std::size_t>(n) + 1, '\0');
  va_start(ap, format);
  std::vsnprintf(s.data(), s.size(), format, ap);
  va_end(ap);
  s.resize(static_cast<std::size_t>(n));
  return s;
}

std::string u64(std::uint64_t v) { return strf("%" PRIu64, v); }

// Three significant digits, without exponents for ordinary magnitudes.
std::string sig3(double v) {
  if (!(v == v)) return "nan";
  if (v == 0) return "0";
  if (v >= 100 || v <= -100) return strf("%.0f", v);
  if (v >= 0.001 || v <= -0.001) return strf("%.3g", v);
  return strf("%.2e", v);
}

// Nanoseconds as seconds with all nine decimals: simulated time is exact.
std::string seconds_from_ns(std::uint64_t ns) {
  return strf("%" PRIu64 ".%09" PRIu64 " s", ns / 1'000'000'000u, ns % 1'000'000'000u);
}

// A latency: ns below 10 us, else us with three decimals.
std::string latency(std::uint64_t ns) {
  if (ns < 10'000) return strf("%" PRIu64 " ns", ns);
  return strf("%" PRIu64 ".%03" PRIu64 " us", ns / 1000, ns % 1000);
}

std::string bytes_human(std::uint64_t b) {
  const double v = static_cast<double>(b);
  if (b >= 1'000'000'000'000u) return strf("%.2f TB", v / 1e12);
  if (b >= 1'000'000'000u) return strf("%.2f GB", v / 1e9);
  if (b >= 1'000'000u) return strf("%.2f MB", v / 1e6);
  if (b >= 1'000u) return strf("%.2f kB", v / 1e3);
  return strf("%" PRIu64 " B", b);
}

std::string percent(double fraction) { return strf("%.1f%%", fraction * 100.0); }

std::string plural(std::uint64_t n, const char* one, const char* many) {
  return u64(n) + " " + (n == 1 ? one : many);
}

double speed_sim(std::uint64_t sim_ns, double wall_s) {
  return wall_s > 0 ? static_cast<double>(sim_ns) * 1e-9 / wall_s : 0.0;
}
double speed_payload(std::uint64_t payload_bytes, double wall_s) {
  return wall_s > 0 ? static_cast<double>(payload_bytes) * 8e-9 / wall_s : 0.0;
}
std::string speed_text(std::uint64_t sim_ns, std::uint64_t payload_bytes, double wall_s) {
  return "speed: " + sig3(speed_sim(sim_ns, wall_s)) + " simulated s per wall s, " +
         sig3(speed_payload(payload_bytes, wall_s)) + " Gbit simulated payload per wall s";
}

// ---- tables ----------------------------------------------------------------------------------

// Rows of cells under a header; column widths from the contents; numbers right-aligned.
struct Table {
  std::vector<std::string> header;
  std::vector<bool> right;  // per column
  std::vector<std::vector<std::string>> rows;

  void render(std::string& out, std::size_t indent) const {
    std::vector<std::size_t> w(header.size(), 0);
    for (std::size_t c = 0; c < header.size(); ++c) w[c] = header[c].size();
    for (const auto& row : rows) {
      for (std::size_t c = 0; c < row.size() && c < w.size(); ++c) w[c] = std::max(w[c], row[c].size());
    }
    auto line = [&](const std::vector<std::string>& cells) {
      std::string l(indent, ' ');
      for (std::size_t c = 0; c < w.size(); ++c) {
        const std::string& cell = c < cells.size() ? cells[c] : std::string();
        const std::size_t pad = w[c] - cell.size();
        if (c > 0) l += "  ";
        if (right[c]) l.append(pad, ' ');
        l += cell;
        if (!right[c] && c + 1 < w.size()) l.append(pad, ' ');
      }
      while (!l.empty() && l.back() == ' ') l.pop_back();
      out += l;
      out += '\n';
    };
    line(header);
    for (const auto& row : rows) line(row);
  }
};

// Rows are named values, columns are things (queues, pools); cut into blocks of columns that
// fit kWidth.
struct Transposed {
  std::string corner;                // the label column's header
  std::vector<std::string> columns;  // column headers
  std::vector<std::pair<std::string, std::vector<std::string>>> rows;

  void render(std::string& out, std::size_t indent) const {
    std::size_t label_w = corner.size();
    for (const auto& r : rows) label_w = std::max(label_w, r.first.size());
    std::vector<std::size_t> w(columns.size());
    for (std::size_t c = 0; c < columns.size(); ++c) {
      w[c] = columns[c].size();
      for (const auto& r : rows) {
        if (c < r.second.size()) w[c] = std::max(w[c], r.second[c].size());
      }
    }
    std::size_t first = 0;
    while (first < columns.size()) {
      std::size_t used = indent + label_w;
      std::size_t last = first;
      while (last < columns.size() && (last == first || used + 2 + w[last] <= kWidth)) used += 2 + w[last++];
      Table t;
      t.header.push_back(corner);
      t.right.push_back(false);
      for (std::size_t c = first; c < last; ++c) {
        t.header.push_back(columns[c]);
        t.right.push_back(true);
      }
      for (const auto& r : rows) {
        std::vector<std::string> cells{r.first};
        for (std::size_t c = first; c < last; ++c) cells.push_back(c < r.second.size() ? r.second[c] : "-");
        t.rows.push_back(std::move(cells));
      }
      if (first > 0) out += '\n';
      t.render(out, indent);
      first = last;
    }
  }
};

// "name value, name value" wrapped at kWidth, each line starting with `indent` spaces.
void wrapped_counters(std::string& out, std::size_t indent, std::string_view lead, const Counters& c) {
  std::string line(indent, ' ');
  line += lead;
  bool first = true;
  for (const auto& [name, value] : c) {
    std::string item = name + " " + u64(value);
    if (!first) item.insert(0, ", ");
    if (!first && line.size() + item.size() > kWidth) {
      line += ',';
      out += line;
      out += '\n';
      line.assign(indent + 2, ' ');
      item.erase(0, 2);
    }
    line += item;
    first = false;
  }
  out += line;
  out += '\n';
}

Counters nonzero(const Counters& c) {
  Counters r;
  for (const auto& kv : c) {
    if (kv.second != 0) r.push_back(kv);
  }
  return r;
}

const std::uint64_t* find_counter(const Counters& c, std::string_view name) {
  for (const auto& [n, v] : c) {
    if (n == name) return &v;
  }
  return nullptr;
}

// Adds one row per counter name found in any of `sets` (first-appearance order), prefixed, unless
// it is zero or absent everywhere.
void add_counter_rows(Transposed& t, std::string_view prefix, const std::vector<const Counters*>& sets) {
  std::vector<std::string> names;
  for (const Counters* s : sets) {
    for (const auto& kv : *s) {
      if (std::find(names.begin(), names.end(), kv.first) == names.end()) names.push_back(kv.first);
    }
  }
  for (const std::string& name : names) {
    std::vector<std::string> cells;
    bool any = false;
    for (const Counters* s : sets) {
      const std::uint64_t* v = find_counter(*s, name);
      cells.push_back(v ? u64(*v) : "-");
      any = any || (v && *v != 0);
    }
    if (any) t.rows.emplace_back(std::string(prefix) + name, std::move(cells));
  }
}

// ---- sections --------------------------------------------------------------------------------

void header_section(std::string& out, const RunReport& r) {
  out += "nicemu run: " + (r.scenario.empty() ? std::string("(unnamed scenario)") : r.scenario) + "\n";
  Table t;
  t.header = {"", ""};
  t.right = {false, false};
  t.rows.push_back({"seed", u64(r.seed)});
  t.rows.push_back({"simulated time", seconds_from_ns(r.sim_time_ns)});
  std::string wall = strf("%.3f s (%u thread%s", r.wall_time_s, r.threads, r.threads == 1 ? "" : "s");
  if (r.threads > 1) {
    wall += strf(": %s byte jobs, %.1f%% waited for, %.3f s of waiting", u64(r.byte_jobs).c_str(),
                 r.byte_jobs == 0 ? 0.0 : 100.0 * static_cast<double>(r.byte_job_waits) / static_cast<double>(r.byte_jobs),
                 r.byte_job_wait_s);
  }
  t.rows.push_back({"wall time", wall + ")"});
  t.rows.push_back({"payload", u64(r.payload_bytes()) + " bytes (" + bytes_human(r.payload_bytes()) + ")"});
  if (r.aggregate_goodput_gbps > 0) {
    std::string g = strf("%.2f Gbit/s", r.aggregate_goodput_gbps);
    if (r.line_rate_gbps > 0) g += strf(" = %.1f%% of the %.0f Gbit/s line rate", 100.0 * r.aggregate_goodput_gbps / r.line_rate_gbps, r.line_rate_gbps);
    t.rows.push_back({"goodput", g});
  }
  if (r.rx_header_bytes + r.rx_payload_bytes > 0) {
    t.rows.push_back({"rx placed", "headers " + u64(r.rx_header_bytes) + " B, payload " + u64(r.rx_payload_bytes) + " B"});
  }
  if (r.rx_dma_host_bytes + r.rx_dma_device_bytes > 0) {
    const double dev = double(r.rx_dma_device_bytes) / double(r.rx_dma_host_bytes + r.rx_dma_device_bytes);
    t.rows.push_back({"rx DMA into", "host memory " + u64(r.rx_dma_host_bytes) + " B, device memory " +
                                         u64(r.rx_dma_device_bytes) + " B (" + percent(dev) + " in device memory)"});
  }
  t.rows.push_back({"digest", r.digest.empty() ? std::string("-") : r.digest});
  std::string body;
  t.render(body, 2);
  out += body.substr(body.find('\n') + 1);  // no header line
  out += "  " + speed_text(r.sim_time_ns, r.payload_bytes(), r.wall_time_s) + "\n";
}

void flows_section(std::string& out, const RunReport& r) {
  out += "\nflows\n";
  if (r.flows.empty()) {
    out += "  none\n";
    return;
  }
  Table t;
  t.header = {"flow", "kind", "from->to", "sent", "received", "validated", "errors", "Gbit/s", "retx", "done"};
  t.right = {false, false, false, true, true, true, true, true, true, false};
  for (const FlowReport& f : r.flows) {
    t.rows.push_back({f.label(), to_string(f.kind), f.from + "->" + f.to, u64(f.bytes_sent), u64(f.bytes_received),
                      u64(f.bytes_validated), u64(f.validation_errors), strf("%.3f", f.goodput_gbps),
                      u64(f.retransmits), f.done ? "yes" : "no"});
  }
  t.render(out, 2);
  // Kind-specific details, one line per flow that has any.
  for (const FlowReport& f : r.flows) {
    if (f.kind == FlowKind::kRrTcp) {
      out += "  " + f.label() + ": " + plural(f.transactions, "transaction", "transactions") + ", latency p50 " +
             latency(f.latency_p50_ns) + ", p99 " + latency(f.latency_p99_ns) + "\n";
    } else if (f.kind == FlowKind::kUdp) {
      out += "  " + f.label() + ": datagrams sent " + u64(f.datagrams_sent) + ", received " +
             u64(f.datagrams_received) + ", lost " + u64(f.datagrams_lost) + "\n";
    }
  }
}

void nic_section(std::string& out, const NicReport& n) {
  out += "  nic " + n.name + (n.profile.empty() ? std::string() : " (" + n.profile + ")") + "\n";
  if (!n.dma.empty()) {
    out += "    dma";
    for (const auto& [k, v] : n.dma) out += " " + k + " " + u64(v);
    out += "\n";
  }
  Transposed q;
  q.corner = "qstats";
  q.columns.push_back("total");
  for (const QueueReport& qr : n.queues) q.columns.push_back("q" + std::to_string(qr.index));
  std::vector<const Counters*> rx{&n.rx}, tx{&n.tx};
  for (const QueueReport& qr : n.queues) {
    rx.push_back(&qr.rx);
    tx.push_back(&qr.tx);
  }
  add_counter_rows(q, "rx ", rx);
  add_counter_rows(q, "tx ", tx);
  auto per_queue = [&](const char* label, auto get) {
    std::vector<std::string> cells{"-"};
    bool any = false;
    for (const QueueReport& qr : n.queues) {
      const std::uint64_t v = get(qr);
      cells.push_back(u64(v));
      any = any || v != 0;
    }
    if (any) q.rows.emplace_back(label, std::move(cells));
  };
  per_queue("napi id", [](const QueueReport& qr) { return std::uint64_t{qr.napi_id}; });
  per_queue("irqs", [](const QueueReport& qr) { return qr.irqs; });
  per_queue("polls", [](const QueueReport& qr) { return qr.polls; });
  if (q.rows.empty()) {
    out += "    qstats: all zero\n";
  } else {
    q.render(out, 4);
  }

  Transposed p;
  p.corner = "page pools";
  std::vector<const PagePoolReport*> pools;
  std::vector<std::uint32_t> pool_queue;
  for (const QueueReport& qr : n.queues) {
    for (const PagePoolReport& pp : qr.page_pools) {
      pools.push_back(&pp);
      pool_queue.push_back(qr.index);
    }
  }
  if (pools.empty()) return;
  std::vector<std::string> provider, role, inflight, hold, release, detached;
  std::vector<const Counters*> stats;
  bool any_role = false, any_detached = false;
  for (std::size_t i = 0; i < pools.size(); ++i) {
    const PagePoolReport& pp = *pools[i];
    p.columns.push_back("q" + std::to_string(pool_queue[i]) + " pp" + std::to_string(pp.id));
    provider.push_back(pp.provider.empty() ? "-" : pp.provider);
    role.push_back(pp.role.empty() ? "-" : pp.role);
    any_role = any_role || !pp.role.empty();
    inflight.push_back(strf("%" PRId64, pp.inflight));
    hold.push_back(u64(pp.hold_cnt));
    release.push_back(u64(pp.release_cnt));
    detached.push_back(pp.detached ? "yes" : "no");
    any_detached = any_detached || pp.detached;
    stats.push_back(&pp.stats);
  }
  p.rows.emplace_back("provider", std::move(provider));
  if (any_role) p.rows.emplace_back("role", std::move(role));
  p.rows.emplace_back("inflight", std::move(inflight));
  p.rows.emplace_back("hold_cnt", std::move(hold));
  p.rows.emplace_back("release_cnt", std::move(release));
  if (any_detached) p.rows.emplace_back("detached", std::move(detached));
  add_counter_rows(p, "", stats);
  out += '\n';
  p.render(out, 4);
}

void hosts_section(std::string& out, const RunReport& r) {
  for (const HostReport& h : r.hosts) {
    out += "\nhost " + h.name + ": " + plural(h.cpu_busy.size(), "CPU", "CPUs");
    if (!h.cpu_busy.empty()) {
      out += ", busy";
      for (double b : h.cpu_busy) out += " " + percent(b);
    }
    out += '\n';
    const Counters tcp = nonzero(h.tcp);
    if (!tcp.empty()) wrapped_counters(out, 2, "tcp: ", tcp);
    const Counters devmem = nonzero(h.devmem);
    if (!devmem.empty()) wrapped_counters(out, 2, "devmem: ", devmem);
    for (const NicReport& n : h.nics) nic_section(out, n);
  }
}

void links_section(std::string& out, const RunReport& r) {
  if (r.links.empty()) return;
  out += "\nlinks\n";
  Table t;
  t.header = {"link", "direction", "tx frames", "tx bytes", "rx frames", "rx bytes", "dropped", "utilisation"};
  t.right = {false, false, true, true, true, true, true, true};
  for (const LinkReport& l : r.links) {
    for (const LinkDirectionReport& d : l.directions) {
      t.rows.push_back({l.name, d.from + "->" + d.to, u64(d.tx_frames), u64(d.tx_bytes), u64(d.rx_frames),
                        u64(d.rx_bytes), u64(counters_total(d.drops)), percent(d.utilisation)});
    }
  }
  t.render(out, 2);
  for (const LinkReport& l : r.links) {
    for (const LinkDirectionReport& d : l.directions) {
      const Counters f = nonzero(d.faults);
      if (!f.empty()) wrapped_counters(out, 2, l.name + " " + d.from + "->" + d.to + " faults: ", f);
    }
  }
}

void switch_section(std::string& out, const RunReport& r) {
  if (!r.switch_) return;
  const SwitchReport& s = *r.switch_;
  out += "\nswitch " + s.name + "\n";
  const Counters c = nonzero(s.counters);
  if (c.empty()) {
    out += "  counters: all zero\n";
  } else {
    wrapped_counters(out, 2, "", c);
  }
}

void drops_section(std::string& out, const RunReport& r) {
  out += "\ndrops\n";
  const std::vector<DropRecord> drops = r.drops_by_place();
  if (drops.empty()) {
    out += "  none\n";
    return;
  }
  Table t;
  t.header = {"where", "reason", "count"};
  t.right = {false, false, true};
  for (const DropRecord& d : drops) t.rows.push_back({d.place, d.reason, u64(d.count)});
  t.render(out, 2);
  const Counters by_reason = r.drops_by_reason();
  wrapped_counters(out, 2, "total " + u64(counters_total(by_reason)) + ": ", by_reason);
}

void expectations_section(std::string& out, const RunReport& r) {
  out += "\nexpectations\n";
  if (r.expectations.empty()) {
    out += "  none\n";
    return;
  }
  Table t;
  t.header = {"", "expectation", "measured"};
  t.right = {false, false, false};
  for (const ExpectationResult& e : r.expectations) t.rows.push_back({e.passed ? "PASS" : "FAIL", e.name, e.detail});
  std::string body;
  t.render(body, 2);
  out += body.substr(body.find('\n') + 1);
}

void list_section(std::string& out, const char* title, const std::vector<std::string>& items, bool say_none,
                  const char* note) {
  if (items.empty() && !say_none) return;
  out += "\n";
  out += title;
  if (!items.empty() && note != nullptr) out += note;
  out += '\n';
  if (items.empty()) out += "  none\n";
  for (const std::string& s : items) out += "  - " + s + "\n";
}

}  // namespace

// ---- report.hpp: helpers and RunReport's arithmetic -------------------------------------------

std::uint64_t counter_value(const Counters& c, std::string_view name) {
  const std::uint64_t* v = find_counter(c, name);
  return v ? *v : 0;
}

std::uint64_t counters_total(const Counters& c) {
  std::uint64_t t = 0;
  for (const auto& kv : c) t += kv.second;
  return t;
}

const char* to_string(FlowKind k) {
  switch (k) {
    case FlowKind::kBulkTcp: return "bulk-tcp";
    case FlowKind::kRrTcp: return "rr-tcp";
    case FlowKind::kUdp: return "udp";
  }
  return "?";
}

std::string FlowReport::label() const { return workload + "/" + std::to_string(index); }

double goodput_gbps(std::uint64_t bytes, std::uint64_t start_ns, std::uint64_t end_ns) {
  if (end_ns <= start_ns) return 0.0;
  return static_cast<double>(bytes) * 8.0 / static_cast<double>(end_ns - start_ns);
}

double RunReport::sim_seconds_per_wall_second() const { return speed_sim(sim_time_ns, wall_time_s); }

double RunReport::payload_gbit_per_wall_second() const { return speed_payload(payload_bytes(), wall_time_s); }

std::uint64_t RunReport::payload_bytes() const {
  std::uint64_t b = 0;
  for (const FlowReport& f : flows) b += f.bytes_received;
  return b;
}

std::uint64_t RunReport::validation_errors() const {
  std::uint64_t e = 0;
  for (const FlowReport& f : flows) e += f.validation_errors;
  return e;
}

std::vector<DropRecord> RunReport::drops_by_place() const {
  std::vector<DropRecord> out;
  auto add = [&](const std::string& place, const Counters& c) {
    for (const auto& [reason, n] : c) {
      if (n != 0) out.push_back(DropRecord{place, reason, n});
    }
  };
  for (const HostReport& h : hosts) {
    add("host " + h.name + " stack", h.stack_drops);
    for (const NicReport& n : h.nics) {
      const std::string nic = "host " + h.name + " nic " + n.name;
      add(nic, n.drops);
      for (const QueueReport& q : n.queues) add(nic + " queue " + std::to_string(q.index), q.drops);
    }
  }
  for (const LinkReport& l : links) {
    for (const LinkDirectionReport& d : l.directions) add("link " + l.name + " " + d.from + "->" + d.to, d.drops);
  }
  if (switch_) add("switch " + switch_->name, switch_->drops);
  return out;
}

Counters RunReport::drops_by_reason() const {
  Counters out;
  for (const DropRecord& d : drops_by_place()) {
    auto it = std::find_if(out.begin(), out.end(), [&](const auto& kv) { return kv.first == d.reason; });
    if (it == out.end()) {
      out.emplace_back(d.reason, d.count);
    } else {
      it->second += d.count;
    }
  }
  return out;
}

std::vector<std::string> RunReport::failure_reasons() const {
  std::vector<std::string> why;
  const std::uint64_t errs = validation_errors();
  if (errs > max_validation_errors) {
    std::string s = plural(errs, "validation error", "validation errors");
    if (max_validation_errors > 0) s += " (at most " + u64(max_validation_errors) + " allowed)";
    why.push_back(std::move(s));
  }
  if (leaks_fail && !leaks.empty()) why.push_back(plural(leaks.size(), "leak", "leaks"));
  for (const ExpectationResult& e : expectations) {
    if (!e.passed) why.push_back("expectation failed: " + e.name);
  }
  if (!errors.empty()) why.push_back(plural(errors.size(), "error", "errors"));
  return why;
}

// ---- the table -------------------------------------------------------------------------------

std::string format_summary(const RunReport& r) {
  std::string out;
  header_section(out, r);
  flows_section(out, r);
  hosts_section(out, r);
  links_section(out, r);
  switch_section(out, r);
  drops_section(out, r);
  expectations_section(out, r);
  list_section(out, "leaks", r.leaks, true, r.leaks_fail ? nullptr : " (allowed: expect.no-leaks is false)");
  list_section(out, "errors", r.errors, false, nullptr);
  const std::vector<std::string> why = r.failure_reasons();
  out += "\nresult: ";
  if (why.empty()) {
    out += "PASS\n";
  } else {
    out += "FAIL (";
    for (std::size_t i = 0; i < why.size(); ++i) out += (i ? "; " : "") + why[i];
    out += ")\n";
  }
  return out;
}

std::string format_progress(std::uint64_t sim_time_ns, std::uint64_t payload_bytes, double wall_s) {
  return "progress: sim " + seconds_from_ns(sim_time_ns) + ", payload " + bytes_human(payload_bytes) + ", wall " +
         strf("%.2f s", wall_s) + ", " + speed_text(sim_time_ns, payload_bytes, wall_s);
}

}  // namespace nicemu::app
