#include "core/config/schema.h"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

namespace logship::config {

Status ErrorAt(const YAML::Node& node, const Context& ctx, const std::string& what) {
  std::string where = ctx.file;
  if (node.IsDefined() && node.Mark().line >= 0) {
    where += ":" + std::to_string(node.Mark().line + 1) + ":" + std::to_string(node.Mark().column + 1);
  }
  return Status::InvalidArgument(where + ": " + (ctx.path.empty() ? "" : ctx.path + ": ") + what);
}

Result<YAML::Node> ParseYaml(const std::string& text, const std::string& file) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(file + ":" + std::to_string(e.mark.line + 1) + ":" +
                                   std::to_string(e.mark.column + 1) + ": YAML syntax: " + e.msg);
  }
}

Result<YAML::Node> LoadYamlFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(path + ": cannot open: " + std::strerror(errno));
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseYaml(ss.str(), path);
}

Result<Millis> ParseDuration(std::string_view text) {
  auto bad = [&] {
    return Status::InvalidArgument("expected a duration like 500ms, 10s, 5m, 2h or 1d, got \"" +
                                   std::string(text) + "\"");
  };
  if (text.empty()) return bad();
  double n = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || n < 0) return bad();
  std::string_view unit(p, text.data() + text.size() - p);
  double ms;
  if (unit.empty() || unit == "s") ms = n * 1000;
  else if (unit == "ms") ms = n;
  else if (unit == "m") ms = n * 60'000;
  else if (unit == "h") ms = n * 3'600'000;
  else if (unit == "d") ms = n * 86'400'000;
  else return bad();
  return Millis(static_cast<int64_t>(ms));
}

std::string FormatDuration(Millis d) {
  int64_t ms = d.count();
  if (ms == 0) return "0s";
  if (ms % 86'400'000 == 0) return std::to_string(ms / 86'400'000) + "d";
  if (ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

Result<uint64_t> ParseSize(std::string_view text) {
  auto bad = [&] {
    return Status::InvalidArgument("expected a size like 4096, 512KiB, 1MiB or 2GiB, got \"" +
                                   std::string(text) + "\"");
  };
  uint64_t n = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || p == text.data()) return bad();
  std::string_view unit(p, text.data() + text.size() - p);
  uint64_t mult;
  if (unit.empty() || unit == "B") mult = 1;
  else if (unit == "KiB") mult = 1ULL << 10;
  else if (unit == "MiB") mult = 1ULL << 20;
  else if (unit == "GiB") mult = 1ULL << 30;
  else if (unit == "KB") mult = 1000;
  else if (unit == "MB") mult = 1000 * 1000;
  else if (unit == "GB") mult = 1000ULL * 1000 * 1000;
  else return bad();
  return n * mult;
}

Status ReadString(const YAML::Node& node, const Context& ctx, std::string* out) {
  if (!node.IsScalar()) return ErrorAt(node, ctx, "expected a single value, not a list or map");
  *out = node.Scalar();
  return Status::Ok();
}

Status ReadStringList(const YAML::Node& node, const Context& ctx, std::vector<std::string>* out) {
  out->clear();
  if (node.IsScalar()) {
    out->push_back(node.Scalar());
    return Status::Ok();
  }
  if (!node.IsSequence()) return ErrorAt(node, ctx, "expected a list of strings");
  for (size_t i = 0; i < node.size(); ++i) {
    std::string v;
    LOGSHIP_RETURN_IF_ERROR(ReadString(node[i], ctx.Index(i), &v));
    out->push_back(std::move(v));
  }
  return Status::Ok();
}

Status ReadDuration(const YAML::Node& node, const Context& ctx, Millis* out) {
  std::string s;
  LOGSHIP_RETURN_IF_ERROR(ReadString(node, ctx, &s));
  auto d = ParseDuration(s);
  if (!d.ok()) return ErrorAt(node, ctx, d.status().message());
  *out = *d;
  return Status::Ok();
}

}  // namespace logship::config
