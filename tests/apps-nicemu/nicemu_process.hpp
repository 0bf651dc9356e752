// Runs the built `nicemu` binary (its path comes from CMake as NICEMU_BINARY) with arguments and
// returns its exit code, stdout and stderr; helpers to read its `name: value` output lines and
// to write a temporary scenario file.
#pragma once

#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace nicemu::testing {

struct ProcessResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// 'text' for /bin/sh, single quotes escaped.
inline std::string shell_quote(std::string_view text) {
  std::string q = "'";
  for (char c : text) {
    if (c == '\'') {
      q += "'\\''";
    } else {
      q += c;
    }
  }
  return q + "'";
}

// A file in the temporary folder, removed when this goes out of scope.
class TempFile {
 public:
  explicit TempFile(std::string_view suffix = "") {
    std::string tmpl = (std::filesystem::temp_directory_path() / "nicemu-test-XXXXXX").string() + std::string(suffix);
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    const int fd = mkstemps(buf.data(), static_cast<int>(suffix.size()));
    REQUIRE(fd >= 0);
    close(fd);
    path_ = buf.data();
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  void write(std::string_view text) const {
    std::ofstream f(path_, std::ios::binary | std::ios::trunc);
    f << text;
    REQUIRE(f.good());
  }
  std::string read() const {
    std::ifstream f(path_, std::ios::binary);
    std::ostringstream s;
    s << f.rdbuf();
    return s.str();
  }

 private:
  std::filesystem::path path_;
};

// Runs `nicemu args...` (no shell interpretation of the arguments).
inline ProcessResult run_nicemu(const std::vector<std::string>& args) {
  TempFile err_file(".err");
  std::string cmd = shell_quote(NICEMU_BINARY);
  for (const std::string& a : args) cmd += " " + shell_quote(a);
  cmd += " 2>" + shell_quote(err_file.path().string());
  ProcessResult r;
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = pclose(p);
  REQUIRE(status != -1);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.err = err_file.read();
  return r;
}

inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

inline std::string first_line(const std::string& text) {
  const auto lines = lines_of(text);
  return lines.empty() ? std::string() : lines.front();
}

// The values of every line "<indent>name: value" in order (for `nicemu steer`, one per flow).
inline std::vector<std::string> values_of(const std::string& text, std::string_view name) {
  std::vector<std::string> values;
  const std::string key = std::string(name) + ": ";
  for (const std::string& line : lines_of(text)) {
    const std::size_t start = line.find_first_not_of(' ');
    if (start == std::string::npos || line.compare(start, key.size(), key) != 0) continue;
    values.push_back(line.substr(start + key.size()));
  }
  return values;
}

// "N (...)" or "N" -> N; the first word of a value.
inline std::string first_word(const std::string& value) { return value.substr(0, value.find(' ')); }

// The digest the summary prints (`digest  <hex>`); fails the test when there is none.
inline std::string digest_of(const std::string& out) {
  const auto p = out.find("digest");
  REQUIRE(p != std::string::npos);
  std::istringstream in(out.substr(p + 6));
  std::string d;
  in >> d;
  return d;
}

}  // namespace nicemu::testing
