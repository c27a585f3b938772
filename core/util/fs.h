// Small filesystem helpers shared by the daemons.
#pragma once

#include <string>

#include "logship/status.h"

namespace logship {

// Replaces `path` with `contents` atomically: write a temp file beside it, fsync it,
// rename over `path`, fsync the directory. After a crash the file holds either the old or
// the new contents, never a mix.
Status WriteFileAtomically(const std::string& path, const std::string& contents);

Result<std::string> ReadWholeFile(const std::string& path);

// mkdir -p
Status MakeDirs(const std::string& path);

}  // namespace logship
