#include "shipper/tail/checkpoint_store.h"

#include <nlohmann/json.hpp>

#include <filesystem>

#include "core/util/fs.h"

namespace logship {

Status CheckpointStore::Load() {
  entries_.clear();
  if (!std::filesystem::exists(path_)) return Status::Ok();
  auto text = ReadWholeFile(path_);
  if (!text.ok()) return text.status();
  try {
    auto j = nlohmann::json::parse(*text);
    if (j.value("version", 0) != 1) return Status::Corruption(path_ + ": unknown checkpoint version");
    for (const auto& [key, v] : j.at("files").items()) {
      FileCheckpoint cp;
      cp.path = v.at("path").get<std::string>();
      cp.fingerprint = v.at("fingerprint").get<uint64_t>();
      cp.generation = v.at("generation").get<uint64_t>();
      cp.offset = v.at("offset").get<uint64_t>();
      cp.last_seen_ms = v.at("last_seen_ms").get<int64_t>();
      entries_[key] = cp;
    }
  } catch (const std::exception& e) {
    return Status::Corruption(path_ + ": " + e.what());
  }
  return Status::Ok();
}

Status CheckpointStore::Save() {
  nlohmann::json files = nlohmann::json::object();
  for (const auto& [key, cp] : entries_) {
    files[key] = {{"path", cp.path},
                  {"fingerprint", cp.fingerprint},
                  {"generation", cp.generation},
                  {"offset", cp.offset},
                  {"last_seen_ms", cp.last_seen_ms}};
  }
  nlohmann::json j = {{"version", 1}, {"files", files}};
  return WriteFileAtomically(path_, j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

const FileCheckpoint* CheckpointStore::Find(const std::string& key) const {
  auto it = entries_.find(key);
  return it == entries_.end() ? nullptr : &it->second;
}

void CheckpointStore::PruneOlderThan(int64_t cutoff_ms) {
  std::erase_if(entries_, [&](const auto& kv) { return kv.second.last_seen_ms < cutoff_ms; });
}

}  // namespace logship
