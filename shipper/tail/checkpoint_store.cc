#include "shipper/tail/checkpoint_store.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>

#include "core/util/fs.h"

namespace logship {
namespace {

FileCheckpoint FromJson(const nlohmann::json& v) {
  FileCheckpoint cp;
  cp.path = v.at("path").get<std::string>();
  cp.fingerprint = v.at("fingerprint").get<uint64_t>();
  cp.generation = v.at("generation").get<uint64_t>();
  cp.offset = v.at("offset").get<uint64_t>();
  cp.last_seen_ms = v.at("last_seen_ms").get<int64_t>();
  // Added later in version 1: absent in older files.
  if (v.contains("anchors")) {
    for (const auto& a : v.at("anchors")) cp.anchors.push_back({a.at(0).get<uint64_t>(), a.at(1).get<uint64_t>()});
  }
  cp.origin_device = v.value("origin_device", uint64_t{0});
  cp.origin_inode = v.value("origin_inode", uint64_t{0});
  return cp;
}

nlohmann::json ToJson(const FileCheckpoint& cp) {
  nlohmann::json j = {{"path", cp.path},
                      {"fingerprint", cp.fingerprint},
                      {"generation", cp.generation},
                      {"offset", cp.offset},
                      {"last_seen_ms", cp.last_seen_ms}};
  nlohmann::json anchors = nlohmann::json::array();
  for (const FileAnchor& a : cp.anchors) anchors.push_back({a.offset, a.hash});
  j["anchors"] = std::move(anchors);
  if (cp.origin_device != 0 || cp.origin_inode != 0) {
    j["origin_device"] = cp.origin_device;
    j["origin_inode"] = cp.origin_inode;
  }
  return j;
}

}  // namespace

void AddAnchor(std::vector<FileAnchor>& anchors, FileAnchor a) {
  if (!anchors.empty() && a.offset <= anchors.back().offset) return;
  anchors.push_back(a);
  if (anchors.size() <= kMaxAnchors) return;
  // Drop every other anchor of the older half: the newest stay dense, history thins out.
  std::vector<FileAnchor> kept;
  const size_t half = anchors.size() / 2;
  for (size_t i = 0; i < anchors.size(); ++i) {
    if (i >= half || i % 2 == 0) kept.push_back(anchors[i]);
  }
  anchors = std::move(kept);
}

Status CheckpointStore::Load() {
  entries_.clear();
  retired_.clear();
  if (!std::filesystem::exists(path_)) return Status::Ok();
  auto text = ReadWholeFile(path_);
  if (!text.ok()) return text.status();
  try {
    auto j = nlohmann::json::parse(*text);
    if (j.value("version", 0) != 1) return Status::Corruption(path_ + ": unknown checkpoint version");
    for (const auto& [key, v] : j.at("files").items()) entries_[key] = FromJson(v);
    if (j.contains("retired")) {
      for (const auto& v : j.at("retired")) {
        retired_.push_back({v.at("key").get<std::string>(), FromJson(v.at("checkpoint")),
                            v.at("retired_ms").get<int64_t>()});
      }
    }
  } catch (const std::exception& e) {
    return Status::Corruption(path_ + ": " + e.what());
  }
  return Status::Ok();
}

Status CheckpointStore::Save() {
  nlohmann::json files = nlohmann::json::object();
  for (const auto& [key, cp] : entries_) files[key] = ToJson(cp);
  nlohmann::json j = {{"version", 1}, {"files", files}};
  if (!retired_.empty()) {
    nlohmann::json retired = nlohmann::json::array();
    for (const RetiredCheckpoint& r : retired_) {
      retired.push_back({{"key", r.key}, {"checkpoint", ToJson(r.checkpoint)}, {"retired_ms", r.retired_ms}});
    }
    j["retired"] = std::move(retired);
  }
  return WriteFileAtomically(path_, j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

const FileCheckpoint* CheckpointStore::Find(const std::string& key) const {
  auto it = entries_.find(key);
  return it == entries_.end() ? nullptr : &it->second;
}

void CheckpointStore::PruneOlderThan(int64_t cutoff_ms, int64_t now_ms) {
  std::erase_if(entries_, [&](const auto& kv) { return kv.second.last_seen_ms < cutoff_ms; });
  if (now_ms != 0) {
    std::erase_if(retired_, [&](const RetiredCheckpoint& r) { return r.retired_ms < now_ms - kRetiredKeepMs; });
  }
}

void CheckpointStore::Retire(const std::string& key, const FileCheckpoint& cp, int64_t now_ms) {
  for (const RetiredCheckpoint& r : retired_) {
    if (r.key == key && r.checkpoint.fingerprint == cp.fingerprint && r.checkpoint.generation == cp.generation &&
        r.checkpoint.origin_inode == cp.origin_inode && r.checkpoint.offset >= cp.offset &&
        r.checkpoint.anchors == cp.anchors) {
      return;  // already retired (a restart retiring the same contents again)
    }
  }
  retired_.push_back({key, cp, now_ms});
  if (retired_.size() > kMaxRetired) retired_.erase(retired_.begin());
}

}  // namespace logship
