// report_json.cpp — the `--json` run summary (report.hpp). nlohmann::ordered_json keeps keys in
// the order written here, so two runs of the same scenario and seed give the same text apart
// from wall_time_s and the speed figures. The schema is in apps/common/README.md ("Run report").
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "nicemu/app/report.hpp"

namespace nicemu::app {

namespace {

using Json = nlohmann::ordered_json;

// A name→value object; a name given twice is summed (the object cannot hold it twice).
Json counters(const Counters& c) {
  Json j = Json::object();
  for (const auto& [name, value] : c) {
    if (j.contains(name)) {
      j[name] = j[name].get<std::uint64_t>() + value;
    } else {
      j[name] = value;
    }
  }
  return j;
}

Json strings(const std::vector<std::string>& v) {
  Json j = Json::array();
  for (const std::string& s : v) j.push_back(s);
  return j;
}

Json flow(const FlowReport& f) {
  Json j;
  j["workload"] = f.workload;
  j["index"] = f.index;
  j["kind"] = to_string(f.kind);
  j["from"] = f.from;
  j["to"] = f.to;
  j["tuple"] = f.tuple;
  j["bytes_sent"] = f.bytes_sent;
  j["bytes_received"] = f.bytes_received;
  j["bytes_validated"] = f.bytes_validated;
  j["validation_errors"] = f.validation_errors;
  j["goodput_gbps"] = f.goodput_gbps;
  j["retransmits"] = f.retransmits;
  j["start_ns"] = f.start_ns;
  j["end_ns"] = f.end_ns;
  j["done"] = f.done;
  if (f.kind == FlowKind::kRrTcp) {
    j["transactions"] = f.transactions;
    j["latency_p50_ns"] = f.latency_p50_ns;
    j["latency_p99_ns"] = f.latency_p99_ns;
  } else if (f.kind == FlowKind::kUdp) {
    j["datagrams_sent"] = f.datagrams_sent;
    j["datagrams_received"] = f.datagrams_received;
    j["datagrams_lost"] = f.datagrams_lost;
  }
  return j;
}

Json page_pool(const PagePoolReport& p) {
  Json j;
  j["id"] = p.id;
  j["provider"] = p.provider;
  j["role"] = p.role;
  j["inflight"] = p.inflight;
  j["inflight_mem"] = p.inflight_mem;
  j["hold_cnt"] = p.hold_cnt;
  j["release_cnt"] = p.release_cnt;
  j["detached"] = p.detached;
  j["stats"] = counters(p.stats);
  return j;
}

Json qstats(const Counters& rx, const Counters& tx) {
  Json j;
  j["rx"] = counters(rx);
  j["tx"] = counters(tx);
  return j;
}

Json queue(const QueueReport& q) {
  Json j;
  j["index"] = q.index;
  j["napi_id"] = q.napi_id;
  j["irqs"] = q.irqs;
  j["polls"] = q.polls;
  j["qstats"] = qstats(q.rx, q.tx);
  j["drops"] = counters(q.drops);
  Json pools = Json::array();
  for (const PagePoolReport& p : q.page_pools) pools.push_back(page_pool(p));
  j["page_pools"] = std::move(pools);
  return j;
}

Json nic(const NicReport& n) {
  Json j;
  j["name"] = n.name;
  j["profile"] = n.profile;
  j["qstats"] = qstats(n.rx, n.tx);
  j["drops"] = counters(n.drops);
  j["queue_restart"] = counters(n.queue_restart);
  j["dma"] = counters(n.dma);
  Json queues = Json::array();
  for (const QueueReport& q : n.queues) queues.push_back(queue(q));
  j["queues"] = std::move(queues);
  return j;
}

Json host(const HostReport& h) {
  Json j;
  j["name"] = h.name;
  Json cpus = Json::array();
  for (double b : h.cpu_busy) cpus.push_back(b);
  j["cpu_busy"] = std::move(cpus);
  j["drops"] = counters(h.stack_drops);
  j["tcp"] = counters(h.tcp);
  j["devmem"] = counters(h.devmem);
  Json nics = Json::array();
  for (const NicReport& n : h.nics) nics.push_back(nic(n));
  j["nics"] = std::move(nics);
  return j;
}

Json link(const LinkReport& l) {
  Json j;
  j["name"] = l.name;
  Json dirs = Json::array();
  for (const LinkDirectionReport& d : l.directions) {
    Json dj;
    dj["from"] = d.from;
    dj["to"] = d.to;
    dj["tx_frames"] = d.tx_frames;
    dj["tx_bytes"] = d.tx_bytes;
    dj["rx_frames"] = d.rx_frames;
    dj["rx_bytes"] = d.rx_bytes;
    dj["drops"] = counters(d.drops);
    dj["faults"] = counters(d.faults);
    dj["utilisation"] = d.utilisation;
    dirs.push_back(std::move(dj));
  }
  j["directions"] = std::move(dirs);
  return j;
}

}  // namespace

std::string to_json(const RunReport& r) {
  Json j;
  j["scenario"] = r.scenario;
  j["seed"] = r.seed;
  j["sim_time_ns"] = r.sim_time_ns;
  j["wall_time_s"] = r.wall_time_s;
  j["digest"] = r.digest;
  j["passed"] = r.passed();
  j["failure_reasons"] = strings(r.failure_reasons());
  Json speed;
  speed["sim_seconds_per_wall_second"] = r.sim_seconds_per_wall_second();
  speed["payload_gbit_per_wall_second"] = r.payload_gbit_per_wall_second();
  speed["payload_bytes"] = r.payload_bytes();
  speed["threads"] = r.threads;
  speed["byte_jobs"] = r.byte_jobs;
  speed["byte_job_waits"] = r.byte_job_waits;
  speed["byte_job_wait_s"] = r.byte_job_wait_s;
  j["speed"] = std::move(speed);
  Json path;
  path["aggregate_goodput_gbps"] = r.aggregate_goodput_gbps;
  path["line_rate_gbps"] = r.line_rate_gbps;
  path["goodput_of_line_rate"] = r.line_rate_gbps > 0 ? r.aggregate_goodput_gbps / r.line_rate_gbps : 0.0;
  path["rx_header_bytes"] = r.rx_header_bytes;
  path["rx_payload_bytes"] = r.rx_payload_bytes;
  path["rx_dma_host_bytes"] = r.rx_dma_host_bytes;
  path["rx_dma_device_bytes"] = r.rx_dma_device_bytes;
  j["data_path"] = std::move(path);

  Json flows = Json::array();
  for (const FlowReport& f : r.flows) flows.push_back(flow(f));
  j["flows"] = std::move(flows);
  Json hosts = Json::array();
  for (const HostReport& h : r.hosts) hosts.push_back(host(h));
  j["hosts"] = std::move(hosts);
  Json links = Json::array();
  for (const LinkReport& l : r.links) links.push_back(link(l));
  j["links"] = std::move(links);
  if (r.switch_) {
    Json s;
    s["name"] = r.switch_->name;
    s["counters"] = counters(r.switch_->counters);
    s["drops"] = counters(r.switch_->drops);
    j["switch"] = std::move(s);
  } else {
    j["switch"] = nullptr;
  }

  j["drops"] = counters(r.drops_by_reason());
  Json by_place = Json::array();
  for (const DropRecord& d : r.drops_by_place()) {
    Json dj;
    dj["where"] = d.place;
    dj["reason"] = d.reason;
    dj["count"] = d.count;
    by_place.push_back(std::move(dj));
  }
  j["drops_by_place"] = std::move(by_place);

  Json ex = Json::array();
  for (const ExpectationResult& e : r.expectations) {
    Json ej;
    ej["name"] = e.name;
    ej["passed"] = e.passed;
    ej["detail"] = e.detail;
    ex.push_back(std::move(ej));
  }
  j["expectations"] = std::move(ex);
  Json tl = Json::array();
  for (const TimelineResult& t : r.timeline) {
    Json tj;
    tj["at_ns"] = t.at_ns;
    tj["action"] = t.action;
    tj["result"] = t.result;
    tl.push_back(std::move(tj));
  }
  j["timeline"] = std::move(tl);
  j["leaks"] = strings(r.leaks);
  j["leaks_fail"] = r.leaks_fail;
  j["max_validation_errors"] = r.max_validation_errors;
  j["errors"] = strings(r.errors);
  // Names come from scenario files; replace invalid UTF-8 rather than throw.
  return j.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

bool write_json_file(const RunReport& r, const std::filesystem::path& path, std::string* error) {
  const std::string text = to_json(r);
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) {
    if (error) *error = "cannot open '" + path.string() + "' to write the JSON summary: " + std::strerror(errno);
    return false;
  }
  f.write(text.data(), static_cast<std::streamsize>(text.size()));
  f.close();
  if (!f) {
    if (error) *error = "writing the JSON summary to '" + path.string() + "' failed: " + std::strerror(errno);
    return false;
  }
  return true;
}

}  // namespace nicemu::app
