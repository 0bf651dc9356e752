// What the ncdevmem programs share: options to mode, stdin to lines, the result and the log.
#include <utility>

#include "control.hpp"
#include "nicemu/ncdevmem/ncdevmem.hpp"

namespace nicemu::ncdevmem {

Mode mode_of(const Options& o) {
  if (!o.server_ip && !o.client_ip) return Mode::kBindTests;
  return o.listen ? Mode::kServer : Mode::kClient;
}

std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> lines;
  std::size_t at = 0;
  while (at < text.size()) {
    const std::size_t nl = text.find('\n', at);
    const std::size_t end = nl == std::string_view::npos ? text.size() : nl + 1;
    lines.emplace_back(text.substr(at, end - at));
    at = end;
  }
  return lines;
}

Program::Program(app::Host& host, Options options, std::string name)
    : host_(host), opt_(std::move(options)), name_(std::move(name)) {}

void Program::log(const std::string& line) const {
  if (opt_.log) opt_.log(line);
}

void Program::pass(sim::TimePoint now) {
  if (result_.finished()) return;
  result_.status = Result::Status::kPass;
  result_.finished_at = now;
}

void Program::fail(sim::TimePoint now, std::string reason) {
  if (result_.finished()) return;
  log(std::string(kTestPrefix) + ": " + reason);
  result_.status = Result::Status::kFail;
  result_.reason = std::move(reason);
  result_.finished_at = now;
}

}  // namespace nicemu::ncdevmem
